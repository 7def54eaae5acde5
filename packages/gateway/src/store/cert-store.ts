import { z } from "zod";
import type { WriteOp } from "./store-contract.js";
import type { SharedState } from "./shared-state.js";

/** One certificate the cluster CA issued to a node agent. Times are Unix ms. */
export interface NodeCertificateRecord {
  readonly serial: string;
  readonly runtimeId: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

const CertificateRow = z.object({
  runtime_id: z.string(),
  not_before: z.number(),
  not_after: z.number(),
  issued_at: z.number(),
  revoked_at: z.number().nullable(),
});
type CertificateRow = z.infer<typeof CertificateRow>;

const RevokedNode = z.object({ revoked_at: z.number() });

/**
 * The certificates issued to nodes and the nodes an admin removed, shared by every gateway. What a
 * gateway refuses at a handshake (the deny list) and at registration (a removed runtime_id) is read
 * from memory here, kept current by every gateway's writes: a node removed through one gateway is
 * refused by all of them as the change arrives.
 */
export class NodeCertificateStore {
  readonly #certs = new Map<string, CertificateRow>();
  /** Upper-case serials of revoked certificates (expired ones are refused by the handshake anyway). */
  readonly #denied = new Set<string>();
  readonly #byNode = new Map<string, Set<string>>();
  readonly #revoked = new Set<string>();

  constructor(private readonly state: SharedState) {
    state.bind("certificates", { schema: CertificateRow, apply: (serial, row) => this.#applyCert(serial, row) });
    state.bind("revoked_nodes", {
      schema: RevokedNode,
      apply: (runtimeId, row) => (row ? this.#revoked.add(runtimeId) : this.#revoked.delete(runtimeId)),
    });
  }

  async record(cert: NodeCertificateRecord, issuedAt: number): Promise<void> {
    const row: CertificateRow = { runtime_id: cert.runtimeId, not_before: cert.notBefore, not_after: cert.notAfter, issued_at: issuedAt, revoked_at: null };
    await this.state.write([{ op: "put", table: "certificates", key: cert.serial, doc: row }]);
  }

  /** Bars the node from registering again and revokes its unexpired certificates; returns their serials. */
  async revokeNode(runtimeId: string, at: number): Promise<string[]> {
    const ops: WriteOp[] = [{ op: "put", table: "revoked_nodes", key: runtimeId, doc: { revoked_at: at } }];
    const serials: string[] = [];
    for (const serial of this.#byNode.get(runtimeId) ?? []) {
      const row = this.#certs.get(serial)!;
      if (row.revoked_at !== null || row.not_after <= at) continue;
      serials.push(serial);
      ops.push({ op: "update", table: "certificates", key: serial, doc: { ...row, revoked_at: at } });
    }
    await this.state.write(ops);
    return serials.sort();
  }

  isNodeRevoked(runtimeId: string): boolean {
    return this.#revoked.has(runtimeId);
  }

  /** Whether any certificate was issued to this node (one forgotten by the registry may still hold one). */
  hasCertificates(runtimeId: string): boolean {
    return (this.#byNode.get(runtimeId)?.size ?? 0) > 0;
  }

  /** Whether a handshake must refuse this serial: a revoked certificate (one a handshake would otherwise accept). */
  isDenied(serial: string): boolean {
    return this.#denied.has(serial.toUpperCase());
  }

  /** The deny list: serials of revoked certificates that have not expired yet. */
  deniedSerials(now: number): string[] {
    const out: string[] = [];
    for (const [serial, row] of this.#certs) if (row.revoked_at !== null && row.not_after > now) out.push(serial);
    return out.sort();
  }

  /** Forgets expired certificates; returns how many. */
  async prune(now: number): Promise<number> {
    const ops: WriteOp[] = [];
    for (const [serial, row] of this.#certs) if (row.not_after <= now) ops.push({ op: "delete", table: "certificates", key: serial });
    if (ops.length === 0) return 0;
    return (await this.state.write(ops)).filter(Boolean).length;
  }

  #applyCert(serial: string, row: CertificateRow | undefined): void {
    const before = this.#certs.get(serial);
    if (before) this.#byNode.get(before.runtime_id)?.delete(serial);
    this.#denied.delete(serial.toUpperCase());
    if (!row) {
      this.#certs.delete(serial);
      return;
    }
    this.#certs.set(serial, row);
    let serials = this.#byNode.get(row.runtime_id);
    if (!serials) this.#byNode.set(row.runtime_id, (serials = new Set()));
    serials.add(serial);
    if (row.revoked_at !== null) this.#denied.add(serial.toUpperCase());
  }
}
