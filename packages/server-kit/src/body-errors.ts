import { ApiError } from "@omnigate/shared/errors";

/** The limits a body was read under, and who says so ("the gateway", "this node"). */
export interface BodyLimitsInfo {
  readonly who: string;
  /** OMNIGATE_MAX_BODY_BYTES: a JSON body. */
  readonly maxBodyBytes?: number;
  /** OMNIGATE_MAX_UPLOAD_BYTES: one multipart file (the gateway: the whole form). */
  readonly maxUploadBytes?: number;
}

/** "10 MiB" when the limit is whole MiB (the defaults are), else "65536 bytes". */
export function sizeOf(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes`;
}

/** 413 for a body over its limit, naming the limit and the variable that sets it. */
export function payloadTooLarge(what: string, limit: number, limits: Pick<BodyLimitsInfo, "who">, variable: string, headers: Readonly<Record<string, string>> = {}): ApiError {
  return new ApiError(
    "payload_too_large",
    `The ${what} is larger than ${sizeOf(limit)}, the most ${limits.who} accepts (${variable}). Send a smaller ${what}.`,
    null,
    headers,
  );
}

interface ParserError {
  readonly name?: string;
  readonly type?: string;
  readonly code?: string;
  readonly field?: string;
  readonly status?: number;
  readonly expose?: boolean;
  readonly message?: string;
}

/**
 * A body parser's failure (body-parser's JSON, multer's limits, busboy's malformed forms) as the
 * OpenAI error the client gets; undefined when `err` came from none of them. Both apps parse bodies
 * with these libraries and answer their failures alike.
 */
export function bodyError(err: unknown, limits: BodyLimitsInfo): ApiError | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as ParserError;
  const message = e.message ?? "";
  const field = e.field ? ` (field '${e.field}')` : "";
  if (e.name === "MulterError") {
    if (e.code === "LIMIT_FILE_SIZE" && limits.maxUploadBytes !== undefined) {
      return payloadTooLarge(`file '${e.field ?? "?"}'`, limits.maxUploadBytes, limits, "OMNIGATE_MAX_UPLOAD_BYTES");
    }
    if (e.code === "LIMIT_FIELD_VALUE") {
      return new ApiError("payload_too_large", `The form field '${e.field ?? "?"}' is too long. Send a shorter value.`, e.field ?? null);
    }
    return new ApiError("invalid_multipart", `Bad multipart form: ${message}${field}.`, e.field ?? null);
  }
  switch (e.type) {
    case "entity.too.large":
      return limits.maxBodyBytes === undefined
        ? new ApiError("payload_too_large", "The request body is too large. Send a smaller body.")
        : payloadTooLarge("JSON body", limits.maxBodyBytes, limits, "OMNIGATE_MAX_BODY_BYTES");
    case "entity.parse.failed":
      return new ApiError("invalid_json", `The request body is not valid JSON (${message}). Send a JSON object with Content-Type: application/json.`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new ApiError("unsupported_media_type", `Unsupported body encoding: ${message}. Send the JSON body as UTF-8.`);
  }
  // busboy's messages are fixed strings ("Unexpected end of form", "Malformed part header").
  if (/multipart|boundary|unexpected end of form|malformed part header/i.test(message)) return malformedForm(message);
  // Other client errors body-parser marks as safe to show.
  if (e.expose && typeof e.status === "number" && e.status >= 400 && e.status < 500) return new ApiError("invalid_request", message);
  return undefined;
}

function malformedForm(message: string): ApiError {
  return new ApiError("invalid_multipart", `The multipart body is malformed (${message}). Send multipart/form-data as an OpenAI SDK or curl -F builds it.`);
}

/** What reading a multipart form failed with: anything not known otherwise is a malformed form. */
export function multipartError(err: unknown, limits: BodyLimitsInfo): ApiError {
  if (err instanceof ApiError) return err;
  return bodyError(err, limits) ?? malformedForm(err instanceof Error ? err.message : String(err));
}
