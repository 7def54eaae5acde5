import BetterSqlite3 from "better-sqlite3";
import { join } from "node:path";
import { Client } from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { TestScope } from "@omnigate/testkit/scope";
import { waitFor } from "@omnigate/testkit/wait";
import { silent } from "../../test/helpers/store-harness.js";
import { hashApiKey } from "./key-store.js";
import { PostgresBackend } from "./postgres/pg-backend.js";
import { DATABASE_FILE } from "./sqlite/sqlite-database.js";
import { SqliteBackend } from "./sqlite/sqlite-backend.js";
import type { StoreBackend, WriteOp } from "./store-contract.js";
import { storeOver, type Store } from "./store.js";
import { suitePostgres } from "../../test/helpers/postgres-suite.js";

// The one store contract, run against both backends: what a write does and returns, versions,
// transactions, snapshots; and the caches on top of it (models, keys) across a reopen.

function record(name: string, createdAt = 1_700_000_000): ModelRecord {
  return {
    name,
    repo: "org/model",
    revision: "main",
    files: ["model.Q4_K_M.gguf"],
    runtime: "llama_cpp",
    kind: "llm",
    capabilities: ["chat", "completion", "embedding"],
    options: {},
    created_at: createdAt,
    replicas: 1,
    node_selector: {},
    placement_policy: "spread",
  };
}

const pg = suitePostgres();

const scope = new TestScope();
afterEach(() => scope.cleanup());

interface Place {
  /** Opens the place (again: a restart). */
  open(): Promise<StoreBackend>;
  /** Writes as another gateway whose notifications never arrived (an outage). */
  writeUnheard(ops: readonly WriteOp[]): Promise<void>;
}

interface Backends {
  readonly name: string;
  /** A fresh, empty place. */
  place(): Promise<Place>;
}

const BACKENDS: Backends[] = [
  {
    name: "sqlite",
    async place() {
      const dir = await scope.tempDir("og-contract-");
      return {
        open: async () => new SqliteBackend(dir),
        async writeUnheard(ops) {
          const other = new SqliteBackend(dir);
          await other.write(ops);
          await other.close();
        },
      };
    },
  },
  {
    name: "postgres",
    async place() {
      const url = await pg().createDatabase();
      return {
        open: () => PostgresBackend.open({ url, logger: silent, leaderCheckMs: 200 }),
        async writeUnheard(ops) {
          const client = new Client({ connectionString: url });
          await client.connect();
          try {
            for (const op of ops) {
              if (op.op === "delete") await client.query(`DELETE FROM ${op.table} WHERE key = $1`, [op.key]);
              else await client.query(`INSERT INTO ${op.table} (key, doc, version) VALUES ($1, $2, nextval('omnigate_version')) ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version`, [op.key, JSON.stringify(op.doc)]);
            }
          } finally {
            await client.end();
          }
        },
      };
    },
  },
];

describe.each(BACKENDS)("store contract on $name", (backends) => {
  async function open(place: Place): Promise<StoreBackend> {
    const backend = await place.open();
    scope.defer(() => backend.close());
    return backend;
  }

  async function openStore(place: Place): Promise<Store> {
    const store = storeOver(await open(place), silent);
    await store.load();
    return store;
  }

  it("inserts, updates, puts and deletes, returning each change with a version that only grows", async () => {
    const backend = await open(await backends.place());
    const [a] = await backend.write([{ op: "insert", table: "models", key: "a", doc: { n: 1 } }]);
    expect(a).toMatchObject({ table: "models", key: "a", doc: { n: 1 } });
    // An insert on a taken key and an update or delete of no row do nothing, and say so.
    expect(await backend.write([{ op: "insert", table: "models", key: "a", doc: { n: 2 } }])).toEqual([null]);
    expect(await backend.write([{ op: "update", table: "models", key: "nope", doc: {} }])).toEqual([null]);
    expect(await backend.write([{ op: "delete", table: "models", key: "nope" }])).toEqual([null]);
    const [u, p, d, k] = await backend.write([
      { op: "update", table: "models", key: "a", doc: { n: 3 } },
      { op: "put", table: "nodes", key: "n1", doc: { big: "x".repeat(20_000) } },
      { op: "delete", table: "models", key: "a" },
      { op: "put", table: "api_keys", key: "k1", doc: { id: "k1" } },
    ]);
    const versions = [a!.version, u!.version, p!.version, d!.version, k!.version];
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
    expect(d).toMatchObject({ key: "a", doc: null });
    expect(await backend.get("models", "a")).toBeUndefined();
    expect(await backend.get("nodes", "n1")).toEqual({ key: "n1", doc: { big: "x".repeat(20_000) }, version: p!.version });

    const snapshot = await backend.snapshot();
    expect(snapshot.tables.get("models")).toEqual([]);
    expect(snapshot.tables.get("api_keys")).toEqual([{ key: "k1", doc: { id: "k1" }, version: k!.version }]);
    expect(snapshot.version).toBeGreaterThanOrEqual(k!.version);
  });

  it("applies a write's ops all or none", async () => {
    const backend = await open(await backends.place());
    // A document that cannot be stored (nothing to serialize) fails the whole transaction.
    await expect(
      backend.write([
        { op: "put", table: "models", key: "first", doc: { ok: true } },
        { op: "put", table: "models", key: "second", doc: undefined },
      ]),
    ).rejects.toThrow();
    expect(await backend.get("models", "first")).toBeUndefined();
  });

  it("stores models, rejects a duplicate name, deletes, and keeps them in registration order across a reopen", async () => {
    const place = await backends.place();
    let store = await openStore(place);
    expect(await store.models.insert(record("org/b", 2))).toBe(true);
    expect(await store.models.insert(record("org/a", 1))).toBe(true);
    expect(await store.models.insert(record("c", 3))).toBe(true);
    expect(await store.models.insert(record("org/a", 4))).toBe(false);
    expect(store.models.get("org/a")?.created_at).toBe(1);
    expect((await store.models.delete("c"))?.name).toBe("c");
    expect(await store.models.delete("c")).toBeUndefined();
    expect(await store.models.update({ ...record("org/b", 2), replicas: 3 })).toBe(true);
    expect(await store.models.update(record("nope"))).toBe(false);
    await store.close();

    store = await openStore(place);
    expect(store.models.list().map((m) => m.name)).toEqual(["org/a", "org/b"]);
    expect(store.models.get("org/a")).toEqual(record("org/a", 1));
    expect(store.models.get("org/b")?.replicas).toBe(3);
    expect(store.models.get("c")).toBeUndefined();
  });

  it("refuses to start on a model row it cannot read, rather than dropping the model", async () => {
    const place = await backends.place();
    const backend = await open(place);
    await backend.write([{ op: "put", table: "models", key: "broken", doc: { name: "broken" } }]);
    const store = storeOver(await open(place), silent);
    await expect(store.load()).rejects.toThrow(/stored models row 'broken' is not valid/);
  });

  it("stores only the hash of a client key, finds it by value, and forgets it once revoked", async () => {
    const place = await backends.place();
    let store = await openStore(place);
    const created = await store.keys.create("ci");
    expect(created.key).toMatch(/^og-[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.key.slice(0, 10));
    expect(store.keys.find(created.key)?.id).toBe(created.id);
    expect(store.keys.find(`${created.key}x`)).toBeUndefined();
    const stored = await store.backend.get("api_keys", created.id);
    expect(stored?.doc).toMatchObject({ hash: hashApiKey(created.key) });
    expect(JSON.stringify(stored)).not.toContain(created.key);
    await store.close();

    store = await openStore(place);
    expect(store.keys.find(created.key)?.name).toBe("ci");
    const revoked = await store.keys.revoke(created.id);
    expect(revoked?.revoked_at).toEqual(expect.any(Number));
    expect(store.keys.find(created.key)).toBeUndefined();
    expect((await store.keys.revoke(created.id))?.revoked_at).toBe(revoked?.revoked_at);
    expect(await store.keys.revoke("key_nope")).toBeUndefined();
    await store.close();

    store = await openStore(place);
    expect(store.keys.find(created.key)).toBeUndefined();
    expect(store.keys.list().map((k) => [k.id, k.revoked_at !== null])).toEqual([[created.id, true]]);
  });

  it("revoking a node denies its unexpired certificates only, bars its id, and survives a reopen", async () => {
    const place = await backends.place();
    let store = await openStore(place);
    let certs = store.certificates;
    await certs.record({ serial: "AA01", runtimeId: "n1", notBefore: 0, notAfter: 2_000 }, 0);
    await certs.record({ serial: "AA02", runtimeId: "n1", notBefore: 0, notAfter: 500 }, 0);
    await certs.record({ serial: "BB01", runtimeId: "n2", notBefore: 0, notAfter: 2_000 }, 0);
    expect(certs.hasCertificates("n1")).toBe(true);
    expect(certs.isNodeRevoked("n1")).toBe(false);

    expect(await certs.revokeNode("n1", 1_000)).toEqual(["AA01"]);
    expect(certs.isNodeRevoked("n1")).toBe(true);
    expect(certs.isNodeRevoked("n2")).toBe(false);
    expect(certs.deniedSerials(1_000)).toEqual(["AA01"]);
    expect([certs.isDenied("aa01"), certs.isDenied("AA02"), certs.isDenied("BB01")]).toEqual([true, false, false]);
    // Once it expired, a handshake refuses it anyway: it leaves the list.
    expect(certs.deniedSerials(2_000)).toEqual([]);
    await store.close();

    store = await openStore(place);
    certs = store.certificates;
    expect(certs.isNodeRevoked("n1")).toBe(true);
    expect(certs.deniedSerials(1_500)).toEqual(["AA01"]);
    expect(await certs.prune(1_500)).toBe(1);
    expect(certs.hasCertificates("n2")).toBe(true);
  });

  it("reloads after missed changes: new rows in, changed rows updated, deleted rows gone", async () => {
    const place = await backends.place();
    const store = await openStore(place);
    await store.models.insert(record("kept", 1));
    await store.models.insert(record("changed", 2));
    await store.models.insert(record("deleted", 3));
    // Another writer this gateway did not hear (a notification lost in an outage).
    await place.writeUnheard([
      { op: "update", table: "models", key: "changed", doc: { ...record("changed", 2), replicas: 5 } },
      { op: "delete", table: "models", key: "deleted" },
      { op: "insert", table: "models", key: "new", doc: record("new", 4) },
    ]);
    const seen: string[] = [];
    store.models.on("change", (name, now, before) => seen.push(`${name}:${before ? "had" : "new"}:${now ? "has" : "gone"}`));
    await store.state.resync();
    expect(store.models.list().map((m) => m.name).sort()).toEqual(["changed", "kept", "new"]);
    expect(store.models.get("changed")?.replicas).toBe(5);
    expect(seen.sort()).toEqual(["changed:had:has", "deleted:had:gone", "new:new:has"]);
  });

  it("reloads by itself when the bus says a change was missed (a row it could not read)", async () => {
    const place = await backends.place();
    const store = await openStore(place);
    await place.writeUnheard([{ op: "insert", table: "models", key: "late", doc: record("late", 5) }]);
    expect(store.models.get("late")).toBeUndefined();
    store.backend.bus.emit("missed", "a read that timed out");
    await waitFor(() => store.models.get("late") !== undefined, { what: "the missed model reloaded" });
  });
});

describe("SQLite backend", () => {
  it("creates the schema at the latest version in WAL mode, and refuses a database from a newer gateway", async () => {
    const dir = await scope.tempDir("og-sqlite-");
    const { MIGRATIONS } = await import("./sqlite/sqlite-migrations.js");
    await new SqliteBackend(dir).close();
    let db = new BetterSqlite3(join(dir, DATABASE_FILE), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    db = new BetterSqlite3(join(dir, DATABASE_FILE));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SqliteBackend(dir)).toThrow(/newer than this gateway knows/);
  });

  it("moves an existing install's rows (schema 3) into the store contract's tables", async () => {
    const dir = await scope.tempDir("og-sqlite-old-");
    const { MIGRATIONS } = await import("./sqlite/sqlite-migrations.js");
    const db = new BetterSqlite3(join(dir, DATABASE_FILE));
    for (const sql of MIGRATIONS.slice(0, 3)) db.exec(sql);
    db.pragma("user_version = 3");
    db.prepare("INSERT INTO models (name, record, created_at) VALUES (?, ?, ?)").run("late", JSON.stringify(record("late", 9)), 9);
    db.prepare("INSERT INTO models (name, record, created_at) VALUES (?, ?, ?)").run("early", JSON.stringify(record("early", 1)), 1);
    db.prepare("INSERT INTO api_keys (id, name, prefix, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)").run("key_1", "ci", "og-abc", hashApiKey("og-abc-the-key"), 5, null);
    db.prepare("INSERT INTO placements (model, runtime_id, role, placed_at) VALUES (?, ?, ?, ?)").run("early", "node-1", "serving", 100);
    db.prepare("INSERT INTO placements (model, runtime_id, role, placed_at) VALUES (?, ?, ?, ?)").run("early", "node-2", "leaving", 200);
    db.prepare("INSERT INTO node_admin (runtime_id, cordoned, draining) VALUES (?, ?, ?)").run("node-2", 1, 0);
    db.prepare("INSERT INTO model_estimates (model, estimate) VALUES (?, ?)").run("early", JSON.stringify({ commit: "c", files: [], profile: { kind: "files", bytes: 1 } }));
    db.prepare("INSERT INTO node_certificates (serial, runtime_id, not_before, not_after, issued_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)").run("AB01", "node-2", 1, 2_000, 1, 1_500);
    db.prepare("INSERT INTO revoked_nodes (runtime_id, revoked_at) VALUES (?, ?)").run("node-2", 1_500);
    db.close();

    const backend = new SqliteBackend(dir);
    scope.defer(() => backend.close());
    const store = storeOver(backend, silent);
    await store.load();
    expect(store.models.list().map((m) => m.name)).toEqual(["early", "late"]);
    expect(store.keys.find("og-abc-the-key")).toMatchObject({ id: "key_1", name: "ci", revoked_at: null });
    expect((await backend.get("placements", "early"))?.doc).toEqual({
      replicas: [
        { node: "node-1", role: "serving", placedAt: 100 },
        { node: "node-2", role: "leaving", placedAt: 200 },
      ],
      errors: [],
    });
    expect((await backend.get("node_admin", "node-2"))?.doc).toEqual({ cordoned: true, draining: false });
    expect((await backend.get("estimates", "early"))?.doc).toMatchObject({ commit: "c" });
    expect((await backend.get("certificates", "AB01"))?.doc).toEqual({ runtime_id: "node-2", not_before: 1, not_after: 2_000, issued_at: 1, revoked_at: 1_500 });
    expect((await backend.get("revoked_nodes", "node-2"))?.doc).toEqual({ revoked_at: 1_500 });
  });
});
