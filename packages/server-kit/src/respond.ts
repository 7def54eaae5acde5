import type { ServerResponse } from "node:http";
import { ApiError } from "@omnigate/shared/errors";
import { bodyError, type BodyLimitsInfo } from "./body-errors.js";
import { lingerOnUnreadBody } from "./linger.js";
import type { Logger } from "./logger.js";

/**
 * A JSON answer on Node's own response API: the data planes answer on their listeners' plain
 * `ServerResponse`, the Express apps through their error middleware, both with this.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/**
 * An ApiError as its status, headers and OpenAI body. Once the answer has begun nothing can be said
 * any more: the connection is cut, so the client sees a broken answer rather than a short one. A
 * refusal that comes before the request's body was read lingers on it (linger.ts), so a client
 * still sending reads the answer instead of a reset.
 */
export function sendApiError(res: ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  lingerOnUnreadBody(res);
  for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
  sendJson(res, error.status, error.body());
}

/** Answers whatever a request failed with. */
export type ErrorResponder = (res: ServerResponse, err: unknown) => void;

/**
 * The one error responder of an app, for its raw listener and its Express error middleware alike:
 * ApiErrors go out as they are, body parser failures as their OpenAI errors, anything else as a 500
 * whose details go to the log, never to the client. 5xx answers are logged with the request's id.
 */
export function errorResponder(options: { readonly log: Logger; readonly limits: BodyLimitsInfo }): ErrorResponder {
  const { log, limits } = options;
  const internal = new ApiError("internal_error", `An internal error happened in ${limits.who}; the details are in its log. Retry the request.`);
  return (res, err) => {
    const known = err instanceof ApiError ? err : bodyError(err, limits);
    const requestId = res.getHeader("x-request-id") ?? res.req?.headers["x-request-id"];
    if (!known) {
      log.error({ err, request_id: requestId, method: res.req?.method, url: res.req?.url }, "request failed");
    } else if (known.status >= 500) {
      log.warn({ request_id: requestId, code: known.code, message: known.message }, "request failed");
    }
    sendApiError(res, known ?? internal);
  };
}

/** The answer to a path no route knows. */
export function notFound(method: string | undefined, path: string | undefined, hint: string): ApiError {
  return new ApiError("not_found", `Unknown endpoint ${method ?? "?"} ${path ?? "?"}. ${hint}`);
}
