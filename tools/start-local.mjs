#!/usr/bin/env node
// `pnpm start`: the gateway and one local node agent in one command (a single box, or local dev).
// Both keep their state under ./.data; the agent reads the node token the gateway generated.
// Ctrl-C stops both; if either exits, the other is stopped too.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = resolve(process.env.OMNIGATE_DATA_DIR ?? join(root, ".data", "gateway"));
const stateDir = resolve(process.env.OMNIGATE_STATE_DIR ?? join(root, ".data", "agent"));
mkdirSync(dataDir, { recursive: true });
mkdirSync(stateDir, { recursive: true });
const gatewayPort = process.env.OMNIGATE_PORT ?? "8080";

const children = [];
let stopping = false;

function run(name, script, env) {
  const child = spawn(process.execPath, [join(root, script)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping the rest`);
      stop(code ?? 1);
    }
  });
  children.push(child);
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  const timer = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  }, 10_000);
  timer.unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null))).then(() =>
    process.exit(code),
  );
}

process.once("SIGINT", () => stop(0));
process.once("SIGTERM", () => stop(0));

run("gateway", "packages/gateway/dist/main.js", { OMNIGATE_DATA_DIR: dataDir, OMNIGATE_PORT: gatewayPort });
run("agent", "packages/node-agent/dist/main.js", {
  OMNIGATE_STATE_DIR: stateDir,
  // Engines built by tools/build-llama-server.sh and build-whisper-server.sh are found by name,
  // after whatever the PATH already has.
  PATH: [process.env.PATH, join(homedir(), ".cache", "omnigate", "engines")].filter(Boolean).join(delimiter),
  OMNIGATE_GATEWAY_URL: process.env.OMNIGATE_GATEWAY_URL ?? `http://127.0.0.1:${gatewayPort}`,
  // The gateway writes its generated token here on first start; the agent waits for the file.
  OMNIGATE_NODE_TOKEN_FILE: process.env.OMNIGATE_NODE_TOKEN_FILE ?? join(dataDir, "node.token"),
});
