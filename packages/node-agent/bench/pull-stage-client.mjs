#!/usr/bin/env node
// One stage of the pull, alone, for pull-bench.mjs: where does the pull's time go?
//   node pull-stage-client.mjs <recv|hash|write|all> <url> [file]
//   recv   node:http (the stack the pull uses) drains the body
//   hash   + sha256 of every chunk on the receiving thread
//   write  + every chunk written to <file> (a write stream: writev on libuv's pool, 16 MiB window)
//   all    hash and write, i.e. the single-stream data path of the previous pull (sha256 on the
//          receiving thread)
//   ranges, ranges+after, ranges+worker   8 connections (pull-stage-ranges.mjs)
// Prints one JSON line: bytes, seconds (first response byte to last byte on disk), CPU user/sys.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import http from "node:http";
import { runRanges } from "./pull-stage-ranges.mjs";

const [mode, url, file] = process.argv.slice(2);
const RANGES = ["ranges", "ranges+after", "ranges+worker"];
if (![...["recv", "hash", "write", "all"], ...RANGES].includes(mode ?? "") || !url || (mode !== "recv" && mode !== "hash" && !file)) {
  console.error("usage: pull-stage-client.mjs <recv|hash|write|all|ranges|ranges+after|ranges+worker> <url> [file]");
  process.exit(2);
}
if (RANGES.includes(mode)) {
  console.log(JSON.stringify(await runRanges(mode, url, file)));
  process.exit(0);
}

const get = (u) =>
  http.get(u, { headers: { "accept-encoding": "identity" } }, (res) => {
    if (res.statusCode >= 300 && res.statusCode < 400) {
      res.resume();
      return get(new URL(res.headers.location, u).href);
    }
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const hash = mode === "hash" || mode === "all" ? createHash("sha256") : undefined;
    const out = mode === "write" || mode === "all" ? createWriteStream(file, { highWaterMark: 16 << 20 }) : undefined;
    let bytes = 0;
    res.on("data", (chunk) => {
      bytes += chunk.length;
      hash?.update(chunk);
      if (out && !out.write(chunk)) {
        res.pause();
        out.once("drain", () => res.resume());
      }
    });
    res.on("end", () => {
      const report = () => {
        const cpu = process.cpuUsage(c0);
        const seconds = (performance.now() - t0) / 1000;
        console.log(JSON.stringify({ mode, bytes, seconds, user: cpu.user / 1e6, sys: cpu.system / 1e6, digest: hash?.digest("hex") }));
      };
      if (out) out.end(report);
      else report();
    });
  });
get(url);
