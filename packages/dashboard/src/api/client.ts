import { ApiError, errorOf } from "./api-error.js";
import { adminKey, signOut } from "./session.js";

export { ApiError } from "./api-error.js";

export interface CallOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly body?: BodyInit;
  readonly signal?: AbortSignal;
  /** Another key than the session's (signing in checks the typed one). */
  readonly key?: string;
}

/**
 * A call to the gateway with the admin key. A 401 means the key stopped working (rotated on the
 * gateway): the session ends and the sign-in page says why.
 */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const key = options.key ?? adminKey();
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.json !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? (options.json !== undefined || options.body !== undefined ? "POST" : "GET"),
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : (options.body ?? null),
      signal: options.signal ?? null,
      // The key travels in the header only; nothing the browser would add on its own.
      credentials: "omit",
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError("Cannot reach the gateway. Is it running?", 0);
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401 && options.key === undefined) signOut(error.message);
    throw error;
  }
  return res;
}

export async function callJson<T>(path: string, options: CallOptions = {}): Promise<T> {
  return (await call(path, options)).json() as Promise<T>;
}

/** A model name in a URL path: each `/`-separated part encoded, the slashes kept. */
export function modelPath(name: string): string {
  return `/v1/models/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/** The admin API's path of a model (PATCH), `/`s kept as in modelPath. */
export function modelApiPath(name: string): string {
  return `/api/models/${name.split("/").map(encodeURIComponent).join("/")}`;
}
