#!/usr/bin/env bash
# Builds a real CPU llama-server from the llama.cpp source that the npm package node-llama-cpp ships
# (llama/gitRelease.bundle), so the llama.cpp suites (packages/node-agent/test/llama-real.test.ts,
# the real-binary half of test/engines.test.ts) run against the real engine on a machine without a
# GPU. About 10 minutes on 2 cores; the result is cached per version, so CI builds it once per machine.
#   usage: tools/build-llama-server.sh [OUT_DIR]   (default ~/.cache/omnigate/engines)
# Prints the binary's path as its last line:
#   OMNIGATE_LLAMA_SERVER_BIN=$(bash tools/build-llama-server.sh | tail -n 1)
# Needs: npm (registry access for the package), git, cmake, a C++ compiler. The tests write their own
# tiny GGUF (writeTinyLlamaGguf in packages/testkit/src/gguf-writer.ts, the test kit: never in an app).
set -eu
out=${1:-$HOME/.cache/omnigate/engines}
version=3.21.1
. "$(dirname "$0")/engine-build.sh"
engine_cached "$out" llama-server .llama-version "$version"
engine_workdir
echo "building llama-server (node-llama-cpp@$version's llama.cpp) in $work…" >&2
npm pack "node-llama-cpp@$version" >>"$log" 2>&1
tar xzf "node-llama-cpp-$version.tgz"
git clone -q package/llama/gitRelease.bundle src >>"$log" 2>&1
cmake -S src -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON >>"$log" 2>&1
cmake --build build --target llama-server -j"$(nproc)" >>"$log" 2>&1
engine_install "$out" build/bin/llama-server llama-server .llama-version "$version"
