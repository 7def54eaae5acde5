import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OpenAIErrorBody } from "@omnigate/shared/errors";

/** An error the CLI prints as is (no stack) before exiting 1. */
export class CliError extends Error {
  override name = "CliError";
}

export type ApiResult<T> = { ok: true; data: T } | { ok: false; error: string; status?: number };

export interface CliSettings {
  readonly url: string;
  readonly adminKey: string;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";
/** The gateway's own default OMNIGATE_DATA_DIR, so a CLI run next to a local gateway finds its key. */
const DEFAULT_DATA_DIR = "./.data/gateway";

/**
 * Where the gateway is and the admin key: OMNIGATE_URL (or --url), OMNIGATE_ADMIN_KEY, else the
 * key file the gateway generated in OMNIGATE_DATA_DIR. Never a command-line flag: argv is visible
 * to every user of the machine.
 */
export function resolveSettings(env: NodeJS.ProcessEnv, urlOption?: string): CliSettings {
  const url = (urlOption ?? env.OMNIGATE_URL ?? DEFAULT_URL).replace(/\/+$/, "");
  if (env.OMNIGATE_ADMIN_KEY) return { url, adminKey: env.OMNIGATE_ADMIN_KEY };
  const file = join(env.OMNIGATE_DATA_DIR ?? DEFAULT_DATA_DIR, "admin.key");
  let adminKey: string;
  try {
    adminKey = readFileSync(file, "utf8").trim();
  } catch {
    throw new CliError(`No admin key: set OMNIGATE_ADMIN_KEY, or OMNIGATE_DATA_DIR to the gateway's data dir (looked for ${file}).`);
  }
  if (!adminKey) throw new CliError(`The admin key file ${file} is empty.`);
  return { url, adminKey };
}

/** The admin API over fetch; every failure comes back as a result, never thrown. */
export class AdminClient {
  constructor(private readonly settings: CliSettings) {}

  get url(): string {
    return this.settings.url;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    let res: Response;
    try {
      res = await fetch(`${this.settings.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.settings.adminKey}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      return { ok: false, error: `Cannot reach the gateway at ${this.settings.url} (${why}). Is it running? Set OMNIGATE_URL to its address.` };
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      return { ok: false, status: res.status, error: `The gateway answered ${res.status} with a body that is not JSON.` };
    }
    if (!res.ok) {
      const parsed = OpenAIErrorBody.safeParse(json);
      return { ok: false, status: res.status, error: parsed.success ? parsed.data.error.message : `The gateway answered ${res.status}.` };
    }
    return { ok: true, data: json as T };
  }

  /** For commands: the data, or a CliError carrying the server's message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const result = await this.request<T>(method, path, body);
    if (!result.ok) throw new CliError(result.error);
    return result.data;
  }
}

/** A model name in a URL path: each `/`-separated part encoded, the slashes kept. */
export function modelPath(name: string, under = "/v1/models"): string {
  return `${under}/${name.split("/").map(encodeURIComponent).join("/")}`;
}
