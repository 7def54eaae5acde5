import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import { errorBody, type ErrorCode } from "@omnigate/shared/errors";
import { sendJson } from "./openai-reply.js";

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Why a request was refused (401), in the OpenAI error shape's terms. */
export interface AuthDenial {
  readonly code: Extract<ErrorCode, "missing_api_key" | "invalid_api_key">;
  readonly message: string;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

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
   * Checks `Authorization: Bearer <node secret>`; undefined when it passes. `scrapeToken` (a digest
   * from `scrapeTokenDigest`) is a second accepted credential, for `/metrics` only.
   */
  check(req: IncomingMessage, scrapeToken?: Buffer): AuthDenial | undefined {
    const header = req.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) {
      return { code: "missing_api_key", message: "Missing credentials: send Authorization: Bearer <node secret>. Only the gateway calls the agent API." };
    }
    const candidate = sha256(match[1]!);
    if (scrapeToken && timingSafeEqual(scrapeToken, candidate)) return undefined;
    if (this.#digest === null) {
      return { code: "invalid_api_key", message: "This agent is not registered with the gateway (yet), so no node secret is valid; retry once it has registered." };
    }
    if (!timingSafeEqual(this.#digest, candidate)) {
      return { code: "invalid_api_key", message: "Invalid node secret. Only the gateway calls the agent API, with the secret this agent got at registration." };
    }
    return undefined;
  }

  /** Answers a denial as a 401 with an OpenAI-shaped body. */
  static refuse(res: ServerResponse, denial: AuthDenial): void {
    sendJson(res, 401, errorBody(denial.code, denial.message));
  }

  /** Express middleware: 401 with an OpenAI-shaped body unless `check` passes. */
  middleware(scrapeToken?: Buffer): RequestHandler {
    return (req, res, next) => {
      const denial = this.check(req, scrapeToken);
      if (denial) NodeSecretAuth.refuse(res, denial);
      else next();
    };
  }
}

/** The digest `check` compares an optional scrape token with (undefined when none is configured). */
export function scrapeTokenDigest(token: string | undefined): Buffer | undefined {
  return token ? sha256(token) : undefined;
}
