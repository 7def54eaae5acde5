import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../logger.js";
import type { StoreBackend } from "../store/store-contract.js";
import type { ClusterCredentials } from "./credentials.js";

/** A credential's check value as stored: scrypt with a salt of its own (an admin key may be a short phrase). */
const CredentialCheck = z.object({ salt: z.string(), hash: z.string() });

const CHECKED = [
  ["admin_key", "OMNIGATE_ADMIN_KEY", (c: ClusterCredentials) => c.adminKey.value],
  ["node_token", "OMNIGATE_NODE_TOKEN", (c: ClusterCredentials) => c.nodeToken.value],
  ["cluster_secret", "OMNIGATE_CLUSTER_SECRET", (c: ClusterCredentials) => c.clusterSecret.value],
  // The CA signs every agent's and gateway's certificate: one per cluster (its fingerprint is compared).
  ["cluster_ca", "OMNIGATE_CLUSTER_CA_CERT_FILE", (_c: ClusterCredentials, caFingerprint: string) => caFingerprint],
] as const;

export class CredentialMismatchError extends Error {
  override name = "CredentialMismatchError";
}

function check(value: string, salt: Buffer): Buffer {
  return scryptSync(value, salt, 32);
}

/**
 * Every gateway on one database must hold the same admin key, node token, cluster secret and
 * cluster CA: an agent registered through one gateway is checked and called by all of them. The first gateway
 * stores a check value of each (scrypt, salted; never the value). A gateway that starts with a
 * different one refuses to start while another gateway runs with the stored one; with none running
 * it is a rotation, and its values become the cluster's.
 */
export async function checkSharedCredentials(backend: StoreBackend, credentials: ClusterCredentials, caFingerprint: string, logger: Logger): Promise<void> {
  const log = logger.child({ component: "auth" });
  for (const [name, variable, valueOf] of CHECKED) {
    const value = valueOf(credentials, caFingerprint);
    const row = await backend.get("cluster", name);
    const stored = row ? CredentialCheck.safeParse(row.doc) : undefined;
    if (stored?.success && timingSafeEqual(check(value, Buffer.from(stored.data.salt, "base64")), Buffer.from(stored.data.hash, "base64"))) continue;
    if (stored?.success && (await backend.peersAlive())) {
      throw new CredentialMismatchError(
        `This gateway's ${name === "cluster_ca" ? "cluster CA" : variable} differs from the one the other gateways running on ${backend.where} use. Every gateway of a cluster needs the same ${name === "cluster_ca" ? "cluster CA (OMNIGATE_CLUSTER_CA_CERT_FILE and _KEY_FILE)" : variable} (set it in each one's environment, or copy the data dir's file); to rotate it, stop every gateway and start them all with the new value.`,
      );
    }
    const salt = randomBytes(16);
    await backend.write([{ op: "put", table: "cluster", key: name, doc: { salt: salt.toString("base64"), hash: check(value, salt).toString("base64") } }]);
    if (stored?.success) log.warn({ variable }, "this credential changed since the gateways last ran (no other gateway runs now): the new one is the cluster's from now on");
  }
}
