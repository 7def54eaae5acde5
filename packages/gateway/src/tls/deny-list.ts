import type { NodeCertificateStore } from "../store/cert-store.js";

/**
 * The serials a handshake with an agent refuses: revoked certificates that have not expired. Read
 * from the store at start (revocations outlive a restart) and added to as nodes are removed; one
 * Set lookup per new connection.
 */
export class DenyList {
  #serials: Set<string>;

  constructor(
    private readonly store: NodeCertificateStore,
    private readonly now: () => number = Date.now,
  ) {
    this.#serials = new Set(store.deniedSerials(now()));
  }

  /** Re-reads the store: what other gateways sharing it revoked. */
  reload(): void {
    this.#serials = new Set(this.store.deniedSerials(this.now()));
  }

  add(serials: readonly string[]): void {
    for (const s of serials) this.#serials.add(s.toUpperCase());
  }

  has(serial: string): boolean {
    return this.#serials.has(serial.toUpperCase());
  }

  get size(): number {
    return this.#serials.size;
  }
}
