import type { NodeCertificateStore } from "../store/cert-store.js";

/**
 * The serials a handshake with an agent refuses: revoked certificates. Held by the certificate
 * store in memory (revocations outlive a restart, and reach every gateway as they are written);
 * one Set lookup per new connection.
 */
export class DenyList {
  constructor(private readonly store: NodeCertificateStore) {}

  has(serial: string): boolean {
    return this.store.isDenied(serial);
  }
}
