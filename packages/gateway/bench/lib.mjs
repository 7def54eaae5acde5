// Process plumbing for the data-plane benchmark: spawn the built gateway / agent / stand-ins, wait
// for a line, read a process's RSS, and make sure nothing outlives the run.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

const live = new Set();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A spawned Node program whose output lines can be awaited. */
export class Proc {
  constructor(name, script, args, env, nodeArgs = [], { ipc = false } = {}) {
    this.name = name;
    this.lines = [];
    this.waiters = [];
    this.child = spawn(process.execPath, [...nodeArgs, script, ...args], { env, stdio: ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"] });
    live.add(this.child);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        for (const w of this.waiters) w.reject(new Error(`${name} exited (${signal ?? code})\n${this.tail()}`));
        resolve(this.exitInfo);
      }),
    );
    for (const stream of [this.child.stdout, this.child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        this.lines.push(line);
        if (this.lines.length > 500) this.lines.shift();
        for (const w of [...this.waiters]) {
          const m = line.match(w.re);
          if (m) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      });
    }
  }

  /** Sends `msg` over the IPC channel and resolves with the next answer of the same `type`. */
  ask(msg) {
    return new Promise((resolve) => {
      const onMessage = (answer) => {
        if (answer?.type !== msg.type) return;
        this.child.off("message", onMessage);
        resolve(answer);
      };
      this.child.on("message", onMessage);
      this.child.send(msg);
    });
  }

  get pid() {
    return this.child.pid;
  }

  tail(n = 20) {
    return this.lines.slice(-n).map((l) => `[${this.name}] ${l.slice(0, 300)}`).join("\n");
  }

  waitFor(re, timeoutMs = 30_000) {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    if (this.exitInfo) return Promise.reject(new Error(`${this.name} has exited\n${this.tail()}`));
    return new Promise((resolve, reject) => {
      const w = { re, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms\n${this.tail()}`));
        }
      }, timeoutMs).unref();
    });
  }

  async stop(graceMs = 5_000) {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

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

/** A TCP port free on 127.0.0.1 right now. */
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

/** The environment without the caller's omnigate/HF settings (the bench sets its own). */
export function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OMNIGATE_|HF_|HUGGING_FACE_|LOG_LEVEL$|NODE_OPTIONS$|STANDIN_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

export async function waitUntil(check, what, timeoutMs = 30_000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
