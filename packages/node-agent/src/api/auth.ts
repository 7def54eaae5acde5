import { hash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { ApiError } from "@omnigate/shared/errors";
import { sendApiError } from "@omnigate/server-kit/respond";

/** The one-shot `crypto.hash`, not a Hash object: every inference request hashes its credential. */
function sha256(value: string): Buffer {
  return Buffer.from(hash("sha256", value), "hex");
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

const MISSING = new ApiError("missing_api_key", "Missing credentials: send Authorization: Bearer <node secret>. Only the gateway calls the agent API.");
const UNREGISTERED = new ApiError("invalid_api_key", "This agent is not registered with the gateway (yet), so no node secret is valid; retry once it has registered.");
const INVALID = new ApiError("invalid_api_key", "Invalid node secret. Only the gateway calls the agent API, with the secret this agent got at registration.");

/**
 * The agent's only credential: the node secret the gateway handed out at registration. It changes
 * on every (re-)registration and is held as a sha256 digest; candidates are hashed and compared in
 * constant time, so neither length nor content leaks through timing.
 */
export class NodeSecretAuth {
  #digest: Buffer | null = null;

  /** A new secret from registration, or null when the gateway forgot this node. */
  setSecret(secret: string | null): void {
    this.#digest = secret === null ? null : sha256(secret);
  }

  get hasSecret(): boolean {
    return this.#digest !== null;
  }

  verify(candidate: string): boolean {
    return this.#digest !== null && timingSafeEqual(this.#digest, sha256(candidate));
  }

  /**
   * Checks `Authorization: Bearer <node secret>`: undefined when it passes, else the 401 to answer.
   * `scrapeToken` (a digest from `scrapeTokenDigest`) is a second accepted credential, for
   * `/metrics` only.
   */
  check(req: IncomingMessage, scrapeToken?: Buffer): ApiError | undefined {
    const header = req.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) return MISSING;
    const candidate = sha256(match[1]!);
    if (scrapeToken && timingSafeEqual(scrapeToken, candidate)) return undefined;
    if (this.#digest === null) return UNREGISTERED;
    if (!timingSafeEqual(this.#digest, candidate)) return INVALID;
    return undefined;
  }

  /** Express middleware: 401 with an OpenAI-shaped body unless `check` passes. */
  middleware(scrapeToken?: Buffer): RequestHandler {
    return (req, res, next) => {
      const denial = this.check(req, scrapeToken);
      if (denial) sendApiError(res, denial);
      else next();
    };
  }
}

/** The digest `check` compares an optional scrape token with (undefined when none is configured). */
export function scrapeTokenDigest(token: string | undefined): Buffer | undefined {
  return token ? sha256(token) : undefined;
}
