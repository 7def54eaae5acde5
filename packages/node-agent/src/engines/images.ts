import { EngineRequestError } from "./engine-errors.js";

/** `created` as Unix seconds: sd-server builds differ (number, seconds or ms, or an ISO string). */
export function normaliseCreated(value: unknown, now = Date.now()): number {
  if (typeof value === "number" && Number.isFinite(value)) {
    return value > 1e12 ? Math.floor(value / 1000) : Math.floor(value);
  }
  if (typeof value === "string") {
    if (/^\d+(\.\d+)?$/.test(value)) return normaliseCreated(Number(value), now);
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  return Math.floor(now / 1000);
}

export function parseSize(size: string | undefined): { width: number; height: number } | undefined {
  if (!size) return undefined;
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(size);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

/** We answer with images inline; there is no image host behind the agent. */
export function rejectUrlFormat(responseFormat: unknown): void {
  if (responseFormat === "url") {
    throw new EngineRequestError(
      "unsupported_response_format",
      "response_format 'url' is not supported: this server returns images inline; ask for 'b64_json'.",
      "response_format",
    );
  }
}

export interface ImagesResponse {
  created: number;
  data: { b64_json: string }[];
  [key: string]: unknown;
}

export function imagesResponse(images: readonly string[], created = Math.floor(Date.now() / 1000)): ImagesResponse {
  return { created, data: images.map((b64_json) => ({ b64_json })) };
}
