// Parallel ranges alone, for pull-stage-client.mjs: the pull's parallel data path with nothing
// around it (no hub calls, lock, chunk map or verification), on the agent's own writer and hashing
// thread (dist/), so each hashing design is measured on the same lanes:
//   ranges          8 connections, each range written at its offset; no hash
//   ranges+after    then sha256 of the file, read back on the main thread after the last byte
//   ranges+worker   sha256 on the hashing thread, following the gap-free prefix as it grows
import { open } from "node:fs/promises";
import http from "node:http";
import { hashFile } from "../dist/cache/download/blob-hash.js";
import { HashWorker } from "../dist/cache/download/hash-worker.js";
import { RangeSet } from "../dist/cache/download/range-set.js";
import { BufferPool, RangeWriter } from "../dist/cache/download/range-writer.js";

const LANES = 8;
const CHUNK = 16 << 20;
const agent = new http.Agent({ keepAlive: true });

/** The CDN URL and the size, from the first response's headers (the request is cut off). */
function locate(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { "accept-encoding": "identity", range: "bytes=0-0" } }, (res) => {
        res.resume();
        if (res.statusCode >= 300 && res.statusCode < 400) return resolve(locate(new URL(res.headers.location, url).href));
        const total = Number(/\/(\d+)$/.exec(res.headers["content-range"] ?? "")?.[1]);
        if (res.statusCode !== 206 || !total) return reject(new Error(`no range support: HTTP ${res.statusCode}`));
        resolve({ url, size: total });
      })
      .on("error", reject);
  });
}

function fetchRange(url, start, end, writer) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { "accept-encoding": "identity", range: `bytes=${start}-${end - 1}` } }, (res) => {
        if (res.statusCode !== 206) return reject(new Error(`HTTP ${res.statusCode}`));
        res.on("data", (chunk) => {
          const wait = writer.write(chunk);
          if (wait) {
            res.pause();
            wait.then(() => res.resume(), reject);
          }
        });
        res.on("end", () => writer.flush().then(resolve, reject));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

export async function runRanges(mode, url, file) {
  const target = await locate(url);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const fh = await open(file, "w+");
  const written = new RangeSet();
  const worker = mode === "ranges+worker" ? new HashWorker() : undefined;
  const job = worker?.start(file, "sha256", target.size);
  const pool = new BufferPool(256 << 10);
  let next = 0;
  const lane = async () => {
    while (next < target.size) {
      const start = next;
      const end = Math.min(target.size, start + CHUNK);
      next = end;
      const writer = new RangeWriter(fh, start, end, pool, 4, {
        onBytes: () => {},
        onWritten: (at, len) => {
          written.add(at, at + len);
          job?.advance(written.prefix);
        },
      });
      await fetchRange(target.url, start, end, writer);
      await writer.close();
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  let digest;
  if (job) digest = (await job.result()).digest;
  if (mode === "ranges+after") digest = await hashFile(file, "sha256", target.size);
  await fh.close();
  await worker?.close();
  agent.destroy();
  const cpu = process.cpuUsage(c0);
  return { mode, bytes: written.bytes, seconds: (performance.now() - t0) / 1000, user: cpu.user / 1e6, sys: cpu.system / 1e6, digest };
}
