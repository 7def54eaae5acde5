// What the data-plane benchmark measures with, beside the test kit's processes and waits: a
// process's CPU time and RSS (Linux /proc), the load average, percentiles, a free port, and a
// question over a bench host's IPC channel.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg } from "node:os";

/** CPU time (user + system) the process has used so far, in ms (Linux /proc). */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** The process's resident set size in bytes (Linux /proc). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverage() {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

/** A TCP port free on 127.0.0.1 right now (the stand-in takes a --port, as llama-server does). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Sends `msg` over a child's IPC channel and resolves with its next answer of the same `type`. */
export function ask(proc, msg) {
  return new Promise((resolve) => {
    const onMessage = (answer) => {
      if (answer?.type !== msg.type) return;
      proc.child.off("message", onMessage);
      resolve(answer);
    };
    proc.child.on("message", onMessage);
    proc.child.send(msg);
  });
}
