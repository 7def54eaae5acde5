import { createHash, createHmac, randomBytes } from "node:crypto";

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** A new registration's epoch: public (stored), it makes each registration's secret different. */
export function newEpoch(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * Node secrets, derived rather than stored: a node's secret is HMAC-SHA256 of its runtime_id and its
 * registration's epoch under the cluster secret, which only the gateways hold. The database keeps
 * the epoch (public), so any gateway can check a heartbeat and call the agent with the secret it
 * got at registration, and a copy of the database gives no one a node's secret. A registration
 * makes a new epoch: the old secret stops working everywhere at once.
 */
export class NodeSecrets {
  readonly #key: Buffer;

  constructor(clusterSecret: string) {
    // The secret is used through a key of its own, so the same value never serves two purposes.
    this.#key = createHmac("sha256", clusterSecret).update("omnigate node secrets v1").digest();
  }

  derive(runtimeId: string, epoch: string): string {
    return `ogn_${createHmac("sha256", this.#key).update(`${runtimeId}\u0000${epoch}`).digest("base64url")}`;
  }
}
