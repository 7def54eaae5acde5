import type { ErrorRequestHandler, RequestHandler } from "express";
import { ApiError, errorBody } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Maps a thrown error to status + OpenAI body. 5xx details go to the log, never to the client. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) logger.error({ err, method: req.method, url: req.originalUrl }, "request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(apiError.headers)) res.setHeader(k, v);
    res.status(apiError.status).json(errorBody(apiError.code, apiError.message, apiError.param));
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as BodyParserError;
  // body-parser's errors carry a `type`; their messages are safe to show.
  if (e?.type === "entity.parse.failed") return new ApiError("invalid_json", `The request body is not valid JSON: ${e.message}. Send a JSON object with Content-Type: application/json.`);
  if (e?.type === "entity.too.large") return new ApiError("payload_too_large", "The request body is too large. Send a smaller body.");
  if (e?.type === "encoding.unsupported" || e?.type === "charset.unsupported") return new ApiError("unsupported_media_type", `Unsupported body encoding: ${e.message}.`);
  if (e?.expose && typeof e.status === "number" && e.status >= 400 && e.status < 500) return new ApiError("invalid_request", e.message);
  return new ApiError("internal_error", "The gateway hit an internal error; the details are in its log.");
}

/** The last route: unknown paths get an OpenAI-shaped 404. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res
    .status(404)
    .json(errorBody("not_found", `Unknown endpoint ${req.method} ${req.path}. See the README for the HTTP API.`));
};
