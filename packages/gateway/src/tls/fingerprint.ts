import { createHash, type X509Certificate } from "node:crypto";
import { FINGERPRINT_PREFIX } from "@omnigate/shared/tls";

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo (DER): what agents pin (see @omnigate/shared/tls). */
export function caFingerprint(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return `${FINGERPRINT_PREFIX}${createHash("sha256").update(spki).digest("hex")}`;
}
