import { TABLES, type StoreBackend, type TableName, type WriteOp } from "./store-contract.js";

/** The target of a copy already holds state: nothing is overwritten. */
export class CopyTargetNotEmptyError extends Error {
  override name = "CopyTargetNotEmptyError";
}

/**
 * Copies every row of `from` into `to` in one transaction (all or nothing), for moving a one-box
 * install (SQLite) to PostgreSQL. The target must hold none of the shared state yet. Returns how
 * many rows each table had.
 */
export async function copyStore(from: StoreBackend, to: StoreBackend): Promise<Record<TableName, number>> {
  const target = await to.snapshot();
  const held = TABLES.map((t) => [t, target.tables.get(t)?.length ?? 0] as const).filter(([, n]) => n > 0);
  if (held.length > 0) {
    throw new CopyTargetNotEmptyError(
      `${to.where} already holds ${held.map(([t, n]) => `${n} ${t}`).join(", ")}: copy into an empty database (a new one, or one no gateway has run on), so nothing there is overwritten.`,
    );
  }
  const source = await from.snapshot();
  const ops: WriteOp[] = [];
  const counts = Object.fromEntries(TABLES.map((t) => [t, 0])) as Record<TableName, number>;
  for (const table of TABLES) {
    for (const row of source.tables.get(table) ?? []) {
      ops.push({ op: "insert", table, key: row.key, doc: row.doc });
      counts[table]++;
    }
  }
  if (ops.length > 0) await to.write(ops);
  return counts;
}
