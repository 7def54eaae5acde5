#!/usr/bin/env bash
# Builds a real CPU whisper-server from the whisper.cpp source tree that the npm package nodejs-whisper
# carries (cpp/whisper.cpp), so the whisper.cpp suites (packages/node-agent/test/whisper-real.test.ts
# and the gateway's end-to-end transcription test) run against the real engine on a machine without
# a GPU. About 2 minutes on 2 cores; the result is cached per version, so CI builds it once per machine.
#   usage: tools/build-whisper-server.sh [OUT_DIR [CMAKE_ARG…]]   (default ~/.cache/omnigate/engines)
# Extra cmake arguments pick a GPU backend on a GPU box, e.g. `… ~/engines -DGGML_CUDA=ON` (needs the
# CUDA toolkit) or -DGGML_VULKAN=ON; the cache is kept per version and arguments.
# Prints the binary's path as its last line:
#   OMNIGATE_WHISPER_SERVER_BIN=$(bash tools/build-whisper-server.sh | tail -n 1)
# Needs: npm (registry access for the package), cmake, a C++ compiler. Static ggml, no SDL, ffmpeg or
# curl: the binary decodes WAV, MP3, FLAC and Ogg Vorbis by itself (miniaudio, stb_vorbis) and links
# only the C/C++ runtime and libgomp. The tests write their own tiny model (writeTinyWhisperModel).
set -eu
out=${1:-$HOME/.cache/omnigate/engines}
shift $(( $# > 0 ? 1 : 0 ))
package=0.3.1      # nodejs-whisper
version=1.9.1      # the whisper.cpp it carries
stamp="$version+nodejs-whisper@$package${*:+ $*}"
. "$(dirname "$0")/engine-build.sh"
engine_cached "$out" whisper-server .whisper-version "$stamp"
engine_workdir
echo "building whisper-server (whisper.cpp $version from nodejs-whisper@$package) in $work…" >&2
npm pack "nodejs-whisper@$package" >>"$log" 2>&1
tar xzf "nodejs-whisper-$package.tgz"
src=package/cpp/whisper.cpp
if ! grep -q "VERSION $version)" "$src/CMakeLists.txt"; then
  echo "nodejs-whisper@$package does not carry whisper.cpp $version" >&2; exit 1
fi
cmake -S "$src" -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DWHISPER_BUILD_SERVER=ON -DWHISPER_BUILD_EXAMPLES=ON -DWHISPER_BUILD_TESTS=OFF \
  -DWHISPER_SDL2=OFF -DWHISPER_CURL=OFF -DWHISPER_COMMON_FFMPEG=OFF \
  -DGGML_NATIVE=ON "$@" >>"$log" 2>&1
cmake --build build --target whisper-server -j"$(nproc)" >>"$log" 2>&1
engine_install "$out" build/bin/whisper-server whisper-server .whisper-version "$stamp"
