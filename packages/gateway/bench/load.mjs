#!/usr/bin/env node
// The benchmark's load generator, run as its own process so its CPU is not the gateway's:
//   node load.mjs '<json job>'   → prints one JSON line with the result (and progress lines for "hold").
// Jobs (all against one origin through an undici Pool with keep-alive):
//   { mode: "latency", url, path, headers, body, count, warmup }            sequential, 1 connection
//   { mode: "throughput", url, path, headers, body, connections, durationMs, warmupMs }
//   { mode: "count", url, path, headers, body, connections, count }          exactly `count` requests over `connections`
//   { mode: "streams", url, path, headers, body, streams, expectChunks, lateMs, rounds?, warm?, warmStreams?, warmRounds? }
//     N streams at once, `rounds` times (default 1); `warm` first runs `warmRounds` (default 1)
//     unmeasured rounds of `warmStreams` (default N) streams at once, so the measured ones reuse open
//     keep-alive connections (no TCP handshake in the time to first token) and run JIT-compiled code
//     in every process of the path, as a server that has been up a while does
//   { mode: "hold", …streams job }  like "streams", prints {"event":"open"} once every stream has its first event
import { Pool } from "undici";

const job = JSON.parse(process.argv[2]);
const now = () => performance.now();

function pool(connections) {
  return new Pool(job.url, { connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
}

const requestOptions = () => ({ method: "POST", path: job.path, headers: job.headers, body: job.body });

async function one(p) {
  const res = await p.request(requestOptions());
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
}

async function latency() {
  const p = pool(1);
  for (let i = 0; i < job.warmup; i++) await one(p);
  const out = new Float64Array(job.count);
  for (let i = 0; i < job.count; i++) {
    const t = now();
    await one(p);
    out[i] = now() - t;
  }
  await p.close();
  return { latencies: Array.from(out) };
}

async function throughput() {
  const p = pool(job.connections);
  let counting = false;
  let stop = false;
  let done = 0;
  let errors = 0;
  let firstError;
  const lat = [];
  const worker = async () => {
    while (!stop) {
      const t = now();
      try {
        await one(p);
        if (counting) {
          done++;
          if (lat.length < 200_000) lat.push(now() - t);
        }
      } catch (err) {
        errors++;
        firstError ??= String(err.message ?? err);
      }
    }
  };
  const workers = Array.from({ length: job.connections }, worker);
  await new Promise((r) => setTimeout(r, job.warmupMs));
  counting = true;
  const t0 = now();
  await new Promise((r) => setTimeout(r, job.durationMs));
  counting = false;
  const seconds = (now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  await p.close();
  lat.sort((a, b) => a - b);
  return { requests: done, errors, firstError, seconds, rps: done / seconds, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
}

async function count() {
  const p = pool(job.connections);
  let left = job.count;
  const worker = async () => {
    while (left > 0) {
      left--;
      await one(p);
    }
  };
  const t0 = now();
  await Promise.all(Array.from({ length: job.connections }, worker));
  const seconds = (now() - t0) / 1000;
  await p.close();
  return { requests: job.count, seconds };
}

/** One SSE stream: when each content event arrived, and whether it ended with [DONE]. */
async function stream(p, onFirst) {
  const t0 = now();
  const res = await p.request(requestOptions());
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
  let buf = "";
  let first;
  const times = [];
  let done = false;
  let error = null;
  for await (const chunk of res.body) {
    const t = now();
    first ??= t;
    if (onFirst) {
      onFirst();
      onFirst = undefined;
    }
    buf += chunk.toString("utf8");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!event.startsWith("data: ")) continue;
      if (event === "data: [DONE]") done = true;
      else if (event.includes('"error"')) error = event;
      else if (event.includes('"content":"')) times.push(t);
    }
  }
  return { ttft: first === undefined ? NaN : first - t0, times, done, error };
}

async function streams(hold) {
  const p = pool(Math.max(job.streams, job.warmStreams ?? 0));
  let opened = 0;
  const onFirst = hold
    ? () => {
        if (++opened === job.streams) process.stdout.write(`${JSON.stringify({ event: "open", streams: opened })}\n`);
      }
    : undefined;
  const round = (n = job.streams) =>
    Promise.all(Array.from({ length: n }, () => stream(p, onFirst).catch((err) => ({ failed: String(err.message ?? err) }))));
  if (job.warm) for (let r = 0; r < (job.warmRounds ?? 1); r++) await round(job.warmStreams ?? job.streams);
  const t0 = now();
  const results = [];
  for (let r = 0; r < (job.rounds ?? 1); r++) results.push(...(await round()));
  const wall = now() - t0;
  await p.close();
  const gaps = [];
  const ttfts = [];
  let lost = 0;
  let late = 0;
  let failed = 0;
  let firstProblem;
  for (const r of results) {
    if (r.failed) {
      failed++;
      firstProblem ??= r.failed;
      continue;
    }
    ttfts.push(r.ttft);
    if (r.times.length < job.expectChunks || !r.done || r.error) {
      lost++;
      firstProblem ??= `got ${r.times.length}/${job.expectChunks} chunks, done=${r.done}, error=${r.error}`;
    }
    let streamLate = false;
    for (let i = 1; i < r.times.length; i++) {
      const gap = r.times[i] - r.times[i - 1];
      gaps.push(gap);
      if (gap > job.lateMs) streamLate = true;
    }
    if (streamLate) late++;
  }
  gaps.sort((a, b) => a - b);
  ttfts.sort((a, b) => a - b);
  const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(a.length * q))];
  return {
    streams: job.streams,
    wallMs: wall,
    failed,
    lost,
    late,
    firstProblem,
    ttft: { p50: pct(ttfts, 0.5), p99: pct(ttfts, 0.99), max: ttfts.at(-1) },
    gap: { p50: pct(gaps, 0.5), p99: pct(gaps, 0.99), max: gaps.at(-1), count: gaps.length },
  };
}

const run = { latency, throughput, count, streams: () => streams(false), hold: () => streams(true) }[job.mode];
const result = await run();
process.stdout.write(`${JSON.stringify({ event: "result", ...result })}\n`);
process.exit(0);
