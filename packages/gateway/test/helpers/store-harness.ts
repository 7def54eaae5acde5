import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { NodeRegistry, type NodeRegistryOptions } from "../../src/nodes/node-registry.js";
import { NodeSecrets } from "../../src/nodes/node-secrets.js";
import { SqliteBackend } from "../../src/store/sqlite/sqlite-backend.js";
import { storeOver, type Store } from "../../src/store/store.js";

export const silent = pino({ level: "silent" });

/** A real SQLite store in a fresh temp dir, for unit tests of what sits on the store; `close()` removes it. */
export function tempStore(): Store & { readonly dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "og-store-"));
  const store = storeOver(new SqliteBackend(dir), silent);
  return {
    ...store,
    dir,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A node registry over `store` (bound before the store loads), with a fixed cluster secret. */
export function nodeRegistry(store: Store, options: Omit<NodeRegistryOptions, "state" | "secrets">): NodeRegistry {
  return new NodeRegistry({ state: store.state, secrets: new NodeSecrets("a-cluster-secret-for-unit-tests-only"), ...options });
}
