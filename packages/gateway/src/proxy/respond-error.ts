import type { ServerResponse } from "node:http";
import { ApiError, errorBody } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";

const INTERNAL = new ApiError("internal_error", "The gateway hit an internal error; the details are in its log.");

/**
 * The error middleware's answer, on a plain Node response: the data plane runs without
 * Express. ApiErrors map to their status and OpenAI body; anything else is a logged 500.
 */
export function respondError(res: ServerResponse, err: unknown, log: Logger): void {
  const apiError = err instanceof ApiError ? err : INTERNAL;
  // The data plane set X-Request-Id before anything could fail: the log line and the client share it.
  if (apiError.status >= 500) log.error({ err, request_id: res.getHeader("x-request-id") }, "request failed");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(apiError.code, apiError.message, apiError.param));
  res.statusCode = apiError.status;
  for (const [k, v] of Object.entries(apiError.headers)) res.setHeader(k, v);
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}
