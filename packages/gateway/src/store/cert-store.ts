import type { Database, Statement } from "better-sqlite3";

/** One certificate the cluster CA issued to a node agent. Times are Unix ms. */
export interface NodeCertificateRecord {
  readonly serial: string;
  readonly runtimeId: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * The certificates issued to nodes and the nodes an admin removed. What a gateway refuses at a
 * handshake (the deny list) and at registration (a removed runtime_id) comes from here, so every
 * gateway sharing the store refuses the same.
 */
export class NodeCertificateStore {
  readonly #insert: Statement<[string, string, number, number, number]>;
  readonly #revokeCerts: Statement<[number, string, number]>;
  readonly #revokedSerials: Statement<[string, number]>;
  readonly #revokeNode: Statement<[string, number]>;
  readonly #isRevoked: Statement<[string]>;
  readonly #hasNode: Statement<[string]>;
  readonly #denied: Statement<[number]>;
  readonly #prune: Statement<[number]>;
  readonly #revoke: (runtimeId: string, at: number) => string[];

  constructor(db: Database) {
    this.#insert = db.prepare("INSERT INTO node_certificates (serial, runtime_id, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?)");
    this.#revokeCerts = db.prepare("UPDATE node_certificates SET revoked_at = ? WHERE runtime_id = ? AND revoked_at IS NULL AND not_after > ?");
    this.#revokedSerials = db.prepare("SELECT serial FROM node_certificates WHERE runtime_id = ? AND revoked_at = ?");
    this.#revokeNode = db.prepare("INSERT OR IGNORE INTO revoked_nodes (runtime_id, revoked_at) VALUES (?, ?)");
    this.#isRevoked = db.prepare("SELECT 1 FROM revoked_nodes WHERE runtime_id = ?");
    this.#hasNode = db.prepare("SELECT 1 FROM node_certificates WHERE runtime_id = ? LIMIT 1");
    this.#denied = db.prepare("SELECT serial FROM node_certificates WHERE revoked_at IS NOT NULL AND not_after > ?");
    this.#prune = db.prepare("DELETE FROM node_certificates WHERE not_after <= ?");
    this.#revoke = db.transaction((runtimeId: string, at: number) => {
      this.#revokeNode.run(runtimeId, at);
      this.#revokeCerts.run(at, runtimeId, at);
      return (this.#revokedSerials.all(runtimeId, at) as { serial: string }[]).map((r) => r.serial);
    });
  }

  record(cert: NodeCertificateRecord, issuedAt: number): void {
    this.#insert.run(cert.serial, cert.runtimeId, cert.notBefore, cert.notAfter, issuedAt);
  }

  /** Bars the node from registering again and revokes its unexpired certificates; returns their serials. */
  revokeNode(runtimeId: string, at: number): string[] {
    return this.#revoke(runtimeId, at);
  }

  isNodeRevoked(runtimeId: string): boolean {
    return this.#isRevoked.get(runtimeId) !== undefined;
  }

  /** Whether any certificate was issued to this node (one forgotten by the registry may still hold one). */
  hasCertificates(runtimeId: string): boolean {
    return this.#hasNode.get(runtimeId) !== undefined;
  }

  /** The deny list: serials of revoked certificates that have not expired yet (expired ones fail the handshake anyway). */
  deniedSerials(now: number): string[] {
    return (this.#denied.all(now) as { serial: string }[]).map((r) => r.serial);
  }

  /** Forgets expired certificates; returns how many. */
  prune(now: number): number {
    return this.#prune.run(now).changes;
  }
}
