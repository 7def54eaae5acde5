import type { Request, RequestHandler, Response } from "express";
import { ApiError } from "@omnigate/shared/errors";
import { PRINCIPAL_LABELS, bearerOf, type Authenticator, type Principal, type PrincipalKind } from "./authenticator.js";

/** What a route accepts, in words for the 403 message. */
export interface AuthRule {
  readonly accepts: readonly PrincipalKind[];
  readonly needs: string;
}

export const ADMIN_ONLY: AuthRule = { accepts: ["admin"], needs: "the admin key (OMNIGATE_ADMIN_KEY)" };
/** The admin key also works on /v1/* so ops can try a model without minting a client key. */
export const CLIENT_OR_ADMIN: AuthRule = {
  accepts: ["client", "admin"],
  needs: "a client API key (create one with POST /api/keys or `pnpm omnigate keys create <name>`)",
};
export const NODE_TOKEN_ONLY: AuthRule = { accepts: ["node_token"], needs: "the node token (OMNIGATE_NODE_TOKEN)" };

export function missingCredential(needs: string): ApiError {
  return new ApiError("missing_api_key", `No credential given. Send 'Authorization: Bearer <key>' with ${needs}.`);
}

export function invalidCredential(needs: string): ApiError {
  return new ApiError("invalid_api_key", `The credential is not valid (unknown or revoked). This route needs ${needs}.`);
}

export function wrongCredential(principal: Principal, needs: string): ApiError {
  return new ApiError(
    "insufficient_permissions",
    `This route does not accept ${PRINCIPAL_LABELS[principal.kind]}; it needs ${needs}.`,
  );
}

/** Who sent the request, once requireAuth let it through. */
export function principalOf(res: Response): Principal | undefined {
  return (res.locals as { principal?: Principal }).principal;
}

/** 401 for a missing or unknown credential, 403 for a valid one of the wrong kind. */
export function requireAuth(auth: Authenticator, rule: AuthRule): RequestHandler {
  return (req, res, next) => {
    const result = check(auth, rule, req);
    if (result instanceof ApiError) return next(result);
    (res.locals as { principal?: Principal }).principal = result;
    next();
  };
}

/** The principal, or the 401/403 for it. Reads only `req.headers`, so a plain Node request works too. */
export function check(auth: Authenticator, rule: AuthRule, req: Pick<Request, "headers">): ApiError | Principal {
  const credential = bearerOf(req);
  if (credential === null) return missingCredential(rule.needs);
  const principal = auth.identify(credential);
  if (principal.kind === "unknown") return invalidCredential(rule.needs);
  if (!rule.accepts.includes(principal.kind)) return wrongCredential(principal, rule.needs);
  return principal;
}
