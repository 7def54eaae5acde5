#!/usr/bin/env node
// `pnpm bench:instructions` — CPU instructions each hop executes per request, counted by valgrind's
// callgrind: unlike time, the count does not move with what else runs on the machine, so it tells
// whether a change to the hot path removed work even on a busy box. Each hop runs under callgrind in
// turn, in the bench's own stack (bench/stack.mjs), the rest of the stack running normally:
//   bare-1:        client → bare hop (counted) → stand-in       the floor
//   gateway-only:  client → gateway (counted) → stand-in
//   agent:         client → agent (counted) → stand-in
// Each: warm-up requests (V8 compiles the hot code), then `--windows` times: counters zeroed,
// `--requests` small chats over 8 connections, counters dumped. Every window holds many young-
// generation GCs (their cost grows with what a request allocates); now and then one also holds a
// major GC or a late compile, several times the rest (every thread of the process is counted). So
// the lowest window is the figure, every window printed beside it. Needs valgrind on PATH.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TestScope } from "@omnigate/testkit/scope";
import { REPO_ROOT, assertBuilt } from "@omnigate/testkit/cluster";
import { onPath } from "@omnigate/testkit/stand-ins";
import { writeBenchSection } from "../../testkit/bench/bench-section.mjs";
import { loadAverage } from "./lib.mjs";
import { startStack } from "./stack.mjs";

const LOAD = join(REPO_ROOT, "packages/gateway/bench/load.mjs");
const argValue = (flag, fallback) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : fallback);
const REQUESTS = Number(argValue("--requests", "2000"));
const WINDOWS = Number(argValue("--windows", "7"));
const WARMUP = Number(argValue("--warmup", "8000"));
const CONNECTIONS = 8;
/** Which hop runs under callgrind, and the path that reaches it. */
const COUNTED = [
  { process: "bare-1", path: "bare-1" },
  { process: "gateway", path: "gateway-only" },
  { process: "agent", path: "agent" },
];
const only = argValue("--only")?.split(",");
// --keep DIR: keeps each hop's lowest window for callgrind_annotate (V8's builtins and the C++ side
// are named there; JavaScript compiled at run time is not: a --cpu-prof profile names that).
const KEEP = argValue("--keep");
const log = (...a) => console.log(...a);
const COMMAND = `pnpm bench:instructions${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const k = (x) => `${Math.round(x / 1000).toLocaleString("en")}k`;
/** Every window of each counted hop, instructions per request, lowest first. */
const allWindows = {};

assertBuilt();
if (!(await onPath("valgrind"))) throw new Error("valgrind is not on PATH (Debian: apt-get install valgrind)");
log("omnigate hot path: instructions per request (valgrind --tool=callgrind)");
log(`command: pnpm bench:instructions${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}; load average ${loadAverage()}`);

async function load(scope, job) {
  const p = scope.spawn(LOAD, { name: "load", args: [JSON.stringify(job)] });
  const { code, signal, stdout } = await p.result();
  if (!stdout.includes('"event":"result"')) throw new Error(`load generator exited (${signal ?? code}) without a result\n${p.tail()}`);
}

/** The instruction count (Ir) of a callgrind dump: its `summary:` (or `totals:`) line. */
function instructionsIn(file) {
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`no instruction count in ${file}`);
  return Number(m[1]);
}

const results = {};
let scope;
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => (scope?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130)));
for (const { process: name, path } of COUNTED.filter((c) => !only || only.includes(c.path))) {
  scope = new TestScope();
  try {
    const work = await scope.tempDir("omnigate-bench-ir-");
    const outFile = join(work, "callgrind.out");
    const wrap = { process: name, command: ["valgrind", "--tool=callgrind", `--callgrind-out-file=${outFile}`, "--dump-line=no"] };
    // Heartbeats every 10 s: the control plane's work stays out of the per-request count.
    const stack = await startStack(scope, { work, slots: 256, knobs: () => ({ STANDIN_LOAD_MS: "50", STANDIN_PING_EVERY: "0" }), intervalMs: 0, wrap, heartbeatMs: 10_000 });
    const pid = stack.pids(path)[name];
    const job = { mode: "count", ...stack.target(path, false), connections: CONNECTIONS };
    await load(scope, { ...job, count: WARMUP });
    const windows = [];
    for (let w = 1; w <= WINDOWS; w++) {
      execFileSync("callgrind_control", ["--zerocost", String(pid)], { stdio: "ignore" });
      await load(scope, { ...job, count: REQUESTS });
      execFileSync("callgrind_control", [`--dump=window-${w}`, String(pid)], { stdio: "ignore" });
      const dump = readdirSync(work).map((f) => join(work, f)).find((f) => f.includes("callgrind.out") && readFileSync(f, "utf8").includes(`Trigger: dump window-${w}\n`));
      if (!dump) throw new Error(`callgrind wrote no dump for ${name}, window ${w}`);
      windows.push({ perRequest: instructionsIn(dump) / REQUESTS, dump });
    }
    windows.sort((a, b) => a.perRequest - b.perRequest);
    const lowest = windows[0];
    results[path] = lowest.perRequest;
    allWindows[path] = windows.map((w) => w.perRequest);
    if (KEEP) {
      mkdirSync(KEEP, { recursive: true });
      copyFileSync(lowest.dump, join(KEEP, `${path}.callgrind`));
    }
    log(`    ${path.padEnd(12)} ${name} under callgrind: ${k(results[path])} instructions per request (the lowest of ${WINDOWS} windows: ${windows.map((w) => k(w.perRequest)).join(", ")})`);
  } finally {
    await scope.cleanup();
  }
}
if (results["bare-1"]) {
  for (const path of ["gateway-only", "agent"].filter((p) => results[p])) {
    log(`${path.padEnd(12)} ${(results[path] / results["bare-1"]).toFixed(2)}× the bare hop's instructions per request`);
  }
}
log(`${WINDOWS} windows of ${REQUESTS} requests after ${WARMUP} warm-up, ${CONNECTIONS} connections; load average ${loadAverage()} after`);
if (!only && results["bare-1"]) {
  const row = (path, what) =>
    `| ${path} | ${what} | ${k(results[path])} | ${path === "bare-1" ? "1.00×" : `${(results[path] / results["bare-1"]).toFixed(2)}×`} | ${allWindows[path].map(k).join(", ")} |`;
  await writeBenchSection(REPO_ROOT, "Hot path: instructions per request (issue 10)", {
    intro: [
      `\`${COMMAND}\` (packages/gateway/bench/instructions.mjs), ${new Date().toISOString().slice(0, 10)}: each hop under valgrind's callgrind in turn,`,
      "the rest of the bench's stack running normally; CPU instructions per small chat, every thread of",
      `the process counted, the lowest of ${WINDOWS} windows of ${REQUESTS} requests after ${WARMUP} warm-up (${CONNECTIONS} connections).`,
      "Unlike time, the count does not move with the machine's load; the ratio is to one bare Node relay hop",
      "(node:http in, an undici keep-alive pool out, nothing else).",
    ],
    lines: [
      "| path | counted process | instructions per request | × the bare hop | every window |",
      "|---|---|---|---|---|",
      row("bare-1", "bare hop (the floor)"),
      ...["gateway-only", "agent"].filter((p) => results[p]).map((p) => row(p, COUNTED.find((c) => c.path === p).process)),
    ],
    commands: [COMMAND],
  });
}
