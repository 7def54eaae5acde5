import { TABLES, type ClusterMessage, type RowChange, type TableName } from "../store-contract.js";

/** The one channel gateways notify each other on. */
export const CHANNEL = "omnigate";

/** NOTIFY payloads must stay under 8,000 bytes (PostgreSQL's default build); a margin for the framing. */
export const MAX_PAYLOAD_BYTES = 7_800;

/** A change as it travels: the document inline, or `f` (fetch it) when it is too large. */
interface WireChange {
  readonly t: TableName;
  readonly k: string;
  readonly v: number;
  readonly d?: unknown;
  readonly f?: 1;
}

export type Notification =
  | { readonly from: string; readonly changes: ReadonlyArray<RowChange | { readonly table: TableName; readonly key: string; readonly version: number; readonly fetch: true }> }
  | { readonly from: string; readonly message: ClusterMessage };

/**
 * The payloads that carry `changes` from gateway `from`: as many changes per payload as fit, each
 * with its document unless that alone is too large (the receivers then read the row).
 */
export function packChanges(from: string, changes: readonly RowChange[]): string[] {
  const head = `{"g":${JSON.stringify(from)},"c":[`;
  const payloads: string[] = [];
  let body = "";
  for (const c of changes) {
    let wire = JSON.stringify({ t: c.table, k: c.key, v: c.version, d: c.doc } satisfies WireChange);
    if (Buffer.byteLength(head) + Buffer.byteLength(wire) + 2 > MAX_PAYLOAD_BYTES) {
      wire = JSON.stringify({ t: c.table, k: c.key, v: c.version, f: 1 } satisfies WireChange);
    }
    if (body && Buffer.byteLength(head) + Buffer.byteLength(body) + Buffer.byteLength(wire) + 3 > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${body}]}`);
      body = "";
    }
    body = body ? `${body},${wire}` : wire;
  }
  if (body) payloads.push(`${head}${body}]}`);
  return payloads;
}

export function packMessage(from: string, message: ClusterMessage): string[] {
  if (message.kind !== "seen") return [JSON.stringify({ g: from, m: message })];
  // A large fleet's liveness does not fit one payload: split the node list.
  const payloads: string[] = [];
  const base = Buffer.byteLength(JSON.stringify({ g: from, m: { kind: "seen", nodes: [] } }));
  let batch: string[] = [];
  let size = base;
  for (const id of message.nodes) {
    const add = Buffer.byteLength(id) + 3;
    if (batch.length > 0 && size + add > MAX_PAYLOAD_BYTES) {
      payloads.push(JSON.stringify({ g: from, m: { kind: "seen", nodes: batch } }));
      batch = [];
      size = base;
    }
    batch.push(id);
    size += add;
  }
  payloads.push(JSON.stringify({ g: from, m: { kind: "seen", nodes: batch } }));
  return payloads;
}

const TABLE_SET: ReadonlySet<string> = new Set(TABLES);

/** A payload back into what it says; undefined for anything that is not ours (another program on the channel). */
export function unpack(payload: string): Notification | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const { g, c, m } = raw as { g?: unknown; c?: unknown; m?: unknown };
  if (typeof g !== "string") return undefined;
  if (Array.isArray(c)) {
    const changes: Array<RowChange | { table: TableName; key: string; version: number; fetch: true }> = [];
    for (const w of c as WireChange[]) {
      if (!w || !TABLE_SET.has(w.t) || typeof w.k !== "string" || typeof w.v !== "number") continue;
      changes.push(w.f ? { table: w.t, key: w.k, version: w.v, fetch: true } : { table: w.t, key: w.k, version: w.v, doc: w.d ?? null });
    }
    return { from: g, changes };
  }
  if (typeof m === "object" && m !== null && typeof (m as { kind?: unknown }).kind === "string") return { from: g, message: m as ClusterMessage };
  return undefined;
}
