import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ServerResponse } from "node:http";
import { Router } from "express";
import expressStaticGzip from "express-static-gzip";
import { ApiError } from "@omnigate/shared/errors";

/**
 * The page may load its own scripts, styles, images and fonts and call this gateway, nothing else:
 * no inline script, no eval, no framing. Generated images and speech are shown from data: and
 * blob: URLs the page makes itself.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Vite names every asset under assets/ by its content hash: a changed file is a new URL. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The built dashboard at `/`: index.html (never cached without revalidation, with the CSP) and the
 * hashed assets (cached for a year), each sent as its precompressed .br or .gz when the client takes
 * it. `dir` undefined or without an index.html: `/` answers 404 saying how to get one.
 */
export function dashboardRoutes(dir: string | undefined): Router {
  const router = Router();
  if (!dir || !existsSync(join(dir, "index.html"))) {
    router.get("/", () => {
      throw new ApiError(
        "not_found",
        dir
          ? `No dashboard is built in ${dir}. Run \`pnpm build\` (it builds packages/dashboard), or point OMNIGATE_DASHBOARD_DIR at a built one.`
          : "The dashboard is switched off (OMNIGATE_DASHBOARD_DIR=off).",
      );
    });
    return router;
  }
  router.use(
    expressStaticGzip(dir, {
      enableBrotli: true,
      orderPreference: ["br", "gzip"],
      index: "index.html",
      serveStatic: {
        cacheControl: false,
        dotfiles: "ignore",
        setHeaders: (res: ServerResponse, path: string) => {
          res.setHeader("X-Content-Type-Options", "nosniff");
          if (/\/assets\/[^/]+$/.test(path.replace(/\.(br|gz)$/, ""))) {
            res.setHeader("Cache-Control", IMMUTABLE);
          } else {
            res.setHeader("Cache-Control", "no-cache");
          }
          if (/\.html(\.br|\.gz)?$/.test(path)) {
            res.setHeader("Content-Security-Policy", DASHBOARD_CSP);
            res.setHeader("Referrer-Policy", "no-referrer");
            res.setHeader("X-Frame-Options", "DENY");
          }
        },
      },
    }),
  );
  return router;
}
