// @peculiar/x509 finds its ASN.1 parsers through tsyringe, which needs the Reflect metadata
// polyfill loaded before it: every use of the library goes through this module.
import "reflect-metadata";
import { X509Certificate, createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { FINGERPRINT_PREFIX } from "@omnigate/shared/tls";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/**
 * `sha256:<hex>` of a CA certificate's SubjectPublicKeyInfo (DER): what the gateway prints and
 * agents pin (see @omnigate/shared/tls for why the key and not the whole certificate).
 */
export function caFingerprint(cert: X509Certificate | string): string {
  const spki = (typeof cert === "string" ? new X509Certificate(cert) : cert).publicKey.export({ type: "spki", format: "der" });
  return `${FINGERPRINT_PREFIX}${createHash("sha256").update(spki).digest("hex")}`;
}
