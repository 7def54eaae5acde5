import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelRecord } from "@omnigate/shared/models";
import { DATABASE_FILE } from "./database.js";
import { MIGRATIONS } from "./migrations.js";
import { openStore, type Store } from "./store.js";
import { hashApiKey } from "./key-store.js";

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

describe("store", () => {
  let dir: string;
  let store: Store | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "omnigate-store-"));
  });
  afterEach(() => {
    store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the schema at the latest version in WAL mode", () => {
    store = openStore(dir);
    store.close();
    const db = new BetterSqlite3(join(dir, DATABASE_FILE), { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
  });

  it("refuses a database from a newer gateway", () => {
    openStore(dir).close();
    const db = new BetterSqlite3(join(dir, DATABASE_FILE));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openStore(dir)).toThrow(/newer than this gateway knows/);
  });

  it("stores models, rejects a duplicate name, deletes, and keeps them across a reopen", () => {
    store = openStore(dir);
    expect(store.models.insert(record("org/a", 1))).toBe(true);
    expect(store.models.insert(record("b", 2))).toBe(true);
    expect(store.models.insert(record("org/a", 3))).toBe(false);
    expect(store.models.get("org/a")?.created_at).toBe(1);
    expect(store.models.delete("b")?.name).toBe("b");
    expect(store.models.delete("b")).toBeUndefined();
    store.close();

    store = openStore(dir);
    expect(store.models.list().map((m) => m.name)).toEqual(["org/a"]);
    expect(store.models.get("org/a")).toEqual(record("org/a", 1));
    expect(store.models.get("b")).toBeUndefined();
  });

  it("stores only the hash of a client key, finds it by value, and forgets it once revoked", () => {
    store = openStore(dir);
    const created = store.keys.create("ci");
    expect(created.key).toMatch(/^og-[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.key.slice(0, 10));
    expect(store.keys.find(created.key)?.id).toBe(created.id);
    expect(store.keys.find(`${created.key}x`)).toBeUndefined();
    store.close();

    const db = new BetterSqlite3(join(dir, DATABASE_FILE), { readonly: true });
    const rows = db.prepare("SELECT * FROM api_keys").all() as Array<Record<string, unknown>>;
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.hash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(rows)).not.toContain(created.key);

    store = openStore(dir);
    expect(store.keys.find(created.key)?.name).toBe("ci");
    const revoked = store.keys.revoke(created.id);
    expect(revoked?.revoked_at).toEqual(expect.any(Number));
    expect(store.keys.find(created.key)).toBeUndefined();
    expect(store.keys.revoke(created.id)?.revoked_at).toBe(revoked?.revoked_at);
    expect(store.keys.revoke("key_nope")).toBeUndefined();
    store.close();

    store = openStore(dir);
    expect(store.keys.find(created.key)).toBeUndefined();
    expect(store.keys.list().map((k) => [k.id, k.revoked_at !== null])).toEqual([[created.id, true]]);
  });
});
