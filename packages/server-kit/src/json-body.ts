import type { IncomingMessage } from "node:http";
import { ApiError } from "@omnigate/shared/errors";
import { readBody, type BodyAccount, type BodyLimit } from "./read-body.js";

/** A JSON request body: the object it holds, and the bytes it came as (forwarded as they are). */
export interface JsonBody {
  readonly value: Record<string, unknown>;
  readonly bytes: Buffer;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * Why the headers rule out reading the body as JSON, or undefined. The type may be absent (curl
 * --data-binary) or must name JSON; a charset must be UTF-8 (RFC 8259: JSON between systems is
 * UTF-8); the body must not be compressed (neither hop inflates one, nor forwards a Content-Encoding).
 */
function refusedHeaders(req: IncomingMessage, path: string): ApiError | undefined {
  const type = req.headers["content-type"];
  if (type !== undefined) {
    if (!/json/i.test(type)) {
      return new ApiError("unsupported_media_type", `${path} takes a JSON body, not '${type.slice(0, 100)}'. Send Content-Type: application/json.`);
    }
    const charset = type.includes("harset") ? CHARSET.exec(type)?.[1]?.toLowerCase() : undefined;
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      return new ApiError("unsupported_media_type", `The JSON body says charset '${charset.slice(0, 40)}'. Send it as UTF-8 (charset=utf-8, or no charset).`);
    }
  }
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
    return new ApiError("unsupported_media_type", `The body is sent with Content-Encoding '${encoding.slice(0, 40)}'. Send it uncompressed.`);
  }
  return undefined;
}

/**
 * The request's body as a JSON object, read whole (bounded by `bound`, counted in `account`) and
 * parsed once; anything but an object is refused as `invalid_json`, the way a strict JSON parser
 * (body-parser's) does. `path` names the endpoint in the 415.
 */
export async function readJsonObject(req: IncomingMessage, path: string, bound: BodyLimit, account?: BodyAccount): Promise<JsonBody> {
  const refused = refusedHeaders(req, path);
  if (refused) throw refused;
  const bytes = await readBody(req, bound, account);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new ApiError(
      "invalid_json",
      `The request body is not valid JSON (${(err as Error).message}). Send a JSON object with Content-Type: application/json.`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const what = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new ApiError("invalid_json", `The request body is ${what}, not a JSON object. Send a JSON object, e.g. {"model": "…", …}.`);
  }
  return { value: value as Record<string, unknown>, bytes };
}
