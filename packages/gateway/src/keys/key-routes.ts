import { Router } from "express";
import { CreateKeyRequest, type ApiKeyView } from "@omnigate/shared/admin";
import { parseBody } from "@omnigate/shared/validation";
import { ApiError } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import type { ApiKeyStore } from "../store/key-store.js";
import type { Authenticator } from "../auth/authenticator.js";
import { ADMIN_ONLY, requireAuth } from "../auth/require-auth.js";

export interface KeyRoutesDeps {
  readonly keys: ApiKeyStore;
  readonly auth: Authenticator;
  readonly logger: Logger;
}

/** Client API keys (admin only): create (the key is shown this once), list, revoke. */
export function keyRoutes(deps: KeyRoutesDeps): Router {
  const log = deps.logger.child({ component: "keys" });
  const router = Router();
  router.use("/api/keys", requireAuth(deps.auth, ADMIN_ONLY));

  router.post("/api/keys", async (req, res) => {
    const created = await deps.keys.create(parseBody(CreateKeyRequest, req.body ?? {}).name);
    log.info({ id: created.id, name: created.name, prefix: created.prefix }, "client API key created");
    res.status(201).json(created);
  });

  router.get("/api/keys", (_req, res) => {
    const body: ApiKeyView[] = deps.keys.list();
    res.json(body);
  });

  router.delete("/api/keys/:id", async (req, res) => {
    const id = String(req.params.id);
    const view = await deps.keys.revoke(id);
    if (!view) throw new ApiError("key_not_found", `No API key with id '${id}'. List the keys with GET /api/keys.`, "id");
    log.info({ id, name: view.name }, "client API key revoked");
    res.json(view);
  });

  return router;
}
