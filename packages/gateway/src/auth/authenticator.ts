import { createHash, hash, timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import type { ApiKeyView } from "@omnigate/shared/admin";
import type { ApiKeyStore } from "../store/key-store.js";
import type { ClusterCredentials } from "./credentials.js";

/** Whether a digest is some registered node's secret (the node registry answers this). */
export interface NodeSecrets {
  holdsSecret(digest: Buffer): boolean;
}

/** Who a bearer credential belongs to. */
export type Principal =
  | { readonly kind: "admin" }
  | { readonly kind: "node_token" }
  | { readonly kind: "client"; readonly key: ApiKeyView }
  | { readonly kind: "node_secret" }
  | { readonly kind: "unknown" };

export type PrincipalKind = Principal["kind"];

/** What each kind is called in error messages. */
export const PRINCIPAL_LABELS: Readonly<Record<PrincipalKind, string>> = {
  admin: "the admin key",
  node_token: "the node token",
  client: "a client API key",
  node_secret: "a node secret",
  unknown: "an unknown credential",
};

/** `Authorization: Bearer <credential>`; null when absent or empty. */
export function bearerOf(req: Pick<Request, "headers">): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S.*)$/i.exec(header.trim());
  return match?.[1]?.trim() || null;
}

const ADMIN: Principal = { kind: "admin" };
const NODE_TOKEN: Principal = { kind: "node_token" };
const NODE_SECRET: Principal = { kind: "node_secret" };
const UNKNOWN: Principal = { kind: "unknown" };

/**
 * Tells every credential kind apart. The presented value is hashed once (every inference request
 * comes here: the one-shot `crypto.hash`, not a Hash object); client keys, the usual case, are
 * looked up by that hash; the admin key and node token are compared as sha256 digests with
 * timingSafeEqual. Nothing is cached: a revoked key fails on its next request.
 */
export class Authenticator {
  readonly #adminHash: Buffer;
  readonly #nodeTokenHash: Buffer;

  constructor(
    credentials: ClusterCredentials,
    private readonly keys: ApiKeyStore,
    private readonly nodes: NodeSecrets,
  ) {
    this.#adminHash = sha256(credentials.adminKey.value);
    this.#nodeTokenHash = sha256(credentials.nodeToken.value);
  }

  identify(credential: string): Principal {
    const hex = hash("sha256", credential);
    const key = this.keys.findByHash(hex);
    if (key) return { kind: "client", key };
    const digest = Buffer.from(hex, "hex");
    if (timingSafeEqual(digest, this.#adminHash)) return ADMIN;
    if (timingSafeEqual(digest, this.#nodeTokenHash)) return NODE_TOKEN;
    // Only to answer 403 rather than 401 when a node secret lands on the wrong route.
    if (this.nodes.holdsSecret(digest)) return NODE_SECRET;
    return UNKNOWN;
  }
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
