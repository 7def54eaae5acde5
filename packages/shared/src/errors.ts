import { z } from "zod";

/** OpenAI's error `type` values, plus the ones OpenAI-compatible servers use for 503. */
export const ErrorType = z.enum([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "rate_limit_error",
  "server_error",
  "service_unavailable_error",
]);
export type ErrorType = z.infer<typeof ErrorType>;

/** Every error code omnigate answers with, its HTTP status and OpenAI type. */
export const ERROR_CODES = {
  invalid_request: { status: 400, type: "invalid_request_error" },
  invalid_json: { status: 400, type: "invalid_request_error" },
  invalid_multipart: { status: 400, type: "invalid_request_error" },
  unsupported_response_format: { status: 400, type: "invalid_request_error" },
  unsupported_audio_format: { status: 400, type: "invalid_request_error" },
  ambiguous_runtime: { status: 400, type: "invalid_request_error" },
  missing_api_key: { status: 401, type: "authentication_error" },
  invalid_api_key: { status: 401, type: "authentication_error" },
  insufficient_permissions: { status: 403, type: "permission_error" },
  node_revoked: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  model_not_found: { status: 404, type: "not_found_error" },
  model_capability_unsupported: { status: 404, type: "not_found_error" },
  node_not_found: { status: 404, type: "not_found_error" },
  key_not_found: { status: 404, type: "not_found_error" },
  model_already_exists: { status: 409, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "invalid_request_error" },
  unsupported_media_type: { status: 415, type: "invalid_request_error" },
  queue_full: { status: 429, type: "rate_limit_error" },
  internal_error: { status: 500, type: "server_error" },
  engine_error: { status: 502, type: "server_error" },
  upstream_error: { status: 502, type: "server_error" },
  no_capable_node: { status: 503, type: "service_unavailable_error" },
  model_not_ready: { status: 503, type: "service_unavailable_error" },
  model_unplaced: { status: 503, type: "service_unavailable_error" },
  queue_timeout: { status: 503, type: "service_unavailable_error" },
  shutting_down: { status: 503, type: "service_unavailable_error" },
  upstream_timeout: { status: 504, type: "server_error" },
} as const satisfies Record<string, { status: number; type: ErrorType }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ErrorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** The OpenAI error body: `{ "error": { "message", "type", "code", "param" } }`. */
export const OpenAIErrorBody = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string().nullable(),
    param: z.string().nullable().optional(),
  }),
});
export type OpenAIErrorBody = z.infer<typeof OpenAIErrorBody>;

export function errorBody(code: ErrorCode, message: string, param?: string | null): OpenAIErrorBody {
  return { error: { message, type: ERROR_CODES[code].type, code, param: param ?? null } };
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * An error that becomes an OpenAI error body with its code's status: thrown by the gateway and the
 * agent alike, answered by each one's error responder. Subclasses carry context (`ModelNotReadyError
 * { model, nodes }`); `headers` go out with the answer (`Retry-After`).
 */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.status = statusOf(code);
  }

  /** The OpenAI error body of this error. */
  body(): OpenAIErrorBody {
    return errorBody(this.code, this.message, this.param);
  }
}
