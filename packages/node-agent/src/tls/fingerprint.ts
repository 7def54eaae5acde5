import { X509Certificate, createHash } from "node:crypto";
import { FINGERPRINT_PREFIX } from "@omnigate/shared/tls";

/** `sha256:<hex>` of a CA certificate's SubjectPublicKeyInfo (DER): how the cluster CA is pinned (see @omnigate/shared/tls). */
export function caFingerprint(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return `${FINGERPRINT_PREFIX}${createHash("sha256").update(spki).digest("hex")}`;
}
