import { z } from "zod";

/**
 * The name a gateway's cluster certificate answers to, whatever host it is reached by. An agent
 * that trusts the gateway by a pinned CA asks for it (TLS SNI) and checks the certificate against
 * it, so the check does not depend on which address the gateway is called by. `.invalid` never
 * resolves (RFC 6761): no agent can advertise it, and the gateway never issues it to one.
 */
export const CLUSTER_SERVER_NAME = "gateway.omnigate.invalid";

/** Largest CSR the gateway reads (PEM text): an EC P-256 request is under 600 bytes. */
export const MAX_CSR_CHARS = 8 * 1024;

/**
 * TLS 1.2 suites with forward secrecy and AEAD only (Mozilla's "intermediate" list); TLS 1.3's
 * suites are all modern and stay at their defaults.
 */
export const MODERN_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * A CA fingerprint as omnigate prints and takes it: `sha256:` and 64 lowercase hex digits, the
 * SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER), as kubeadm's discovery hash. The key,
 * not the whole certificate: a CA re-issued with the same key (a renewal) keeps every pin valid.
 */
export const FINGERPRINT_PREFIX = "sha256:";

/** A fingerprint in any common spelling (colons, upper case, with or without the prefix) → canonical, or null. */
export function normalizeFingerprint(text: string): string | null {
  const trimmed = text.trim();
  const hex = (trimmed.toLowerCase().startsWith(FINGERPRINT_PREFIX) ? trimmed.slice(FINGERPRINT_PREFIX.length) : trimmed).replace(/:/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `${FINGERPRINT_PREFIX}${hex}` : null;
}

/** `OMNIGATE_CA_FINGERPRINT`: a pinned cluster CA, in canonical form after parsing. */
export const CaFingerprint = z.string().transform((text, ctx) => {
  const canonical = normalizeFingerprint(text);
  if (canonical === null) {
    ctx.addIssue({ code: "custom", message: "must be sha256: followed by 64 hex digits, as `omnigate cluster ca` prints it" });
    return z.NEVER;
  }
  return canonical;
});

/** Whether a host (from a URL or a listen address) is this machine's loopback: traffic that never leaves the box. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

/** A URL's host without IPv6 brackets, as certificates and TLS name it. */
export function urlHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, "");
}

/** `GET /api/cluster/ca` (no credential: a CA certificate is public): the cluster CA and its fingerprint. */
export const ClusterCaInfo = z.object({
  /** PEM. */
  certificate: z.string(),
  fingerprint: z.string(),
  /** Unix ms. */
  not_after: z.number(),
});
export type ClusterCaInfo = z.infer<typeof ClusterCaInfo>;

/** How long a client certificate for a scraper lives unless asked otherwise, and at most (days). */
export const CLIENT_CERT_DEFAULT_DAYS = 30;
export const CLIENT_CERT_MAX_DAYS = 397;

/**
 * `POST /api/cluster/client-certificates` (admin): a client certificate from the cluster CA for
 * something other than a gateway that must reach agents serving mutual TLS — Prometheus scraping
 * their `/metrics`. The key stays with the asker: it sends a CSR.
 */
export const ClientCertificateRequest = z.strictObject({
  /** The certificate's common name: who holds it (letters, digits, space, ".", "_", "-"). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, "name: 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit (it becomes the certificate's common name)."),
  /** PEM PKCS#10, an EC P-256 or P-384 key. */
  csr: z.string().max(MAX_CSR_CHARS, `csr is longer than ${MAX_CSR_CHARS} characters: send a PKCS#10 request for an EC P-256 or P-384 key.`),
  days: z.number().int().min(1).max(CLIENT_CERT_MAX_DAYS).default(CLIENT_CERT_DEFAULT_DAYS),
});
export type ClientCertificateRequest = z.infer<typeof ClientCertificateRequest>;

export const ClientCertificateInfo = z.object({
  /** PEM. */
  certificate: z.string(),
  /** The cluster CA (PEM): what agents' server certificates are verified with. */
  ca: z.string(),
  serial: z.string(),
  /** Unix ms. */
  not_after: z.number(),
});
export type ClientCertificateInfo = z.infer<typeof ClientCertificateInfo>;
