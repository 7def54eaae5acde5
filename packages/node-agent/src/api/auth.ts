import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { errorBody } from "@omnigate/shared/errors";

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

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

  /** Express middleware: 401 with an OpenAI-shaped body unless `Authorization: Bearer <node secret>`. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const header = req.headers.authorization;
      const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) {
        res
          .status(401)
          .json(errorBody("missing_api_key", "Missing credentials: send Authorization: Bearer <node secret>. Only the gateway calls the agent API."));
        return;
      }
      if (this.#digest === null) {
        res
          .status(401)
          .json(errorBody("invalid_api_key", "This agent is not registered with the gateway (yet), so no node secret is valid; retry once it has registered."));
        return;
      }
      if (!this.verify(match[1]!)) {
        res
          .status(401)
          .json(errorBody("invalid_api_key", "Invalid node secret. Only the gateway calls the agent API, with the secret this agent got at registration."));
        return;
      }
      next();
    };
  }
}
