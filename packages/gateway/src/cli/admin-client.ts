import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import { OpenAIErrorBody } from "@omnigate/shared/errors";
import { followEvents, type StreamedEvent } from "./event-stream.js";

/** An error the CLI prints as is (no stack) before exiting 1. */
export class CliError extends Error {
  override name = "CliError";
}

export type ApiResult<T> = { ok: true; data: T } | { ok: false; error: string; status?: number };

export interface CliSettings {
  readonly url: string;
  /** Empty for a command that needs none (`cluster ca`). */
  readonly adminKey: string;
  /** The gateway's cluster CA, when the data dir holds it: an https gateway serving its own certificate is trusted by it. */
  readonly clusterCa?: string;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";
/** The gateway's own default OMNIGATE_DATA_DIR, so a CLI run next to a local gateway finds its key. */
const DEFAULT_DATA_DIR = "./.data/gateway";

/**
 * Where the gateway is and the admin key: OMNIGATE_URL (or --url), OMNIGATE_ADMIN_KEY, else the
 * key file the gateway generated in OMNIGATE_DATA_DIR. Never a command-line flag: argv is visible
 * to every user of the machine.
 */
export function resolveSettings(env: NodeJS.ProcessEnv, urlOption?: string, options: { keyOptional?: boolean } = {}): CliSettings {
  const url = (urlOption ?? env.OMNIGATE_URL ?? DEFAULT_URL).replace(/\/+$/, "");
  const dataDir = env.OMNIGATE_DATA_DIR ?? DEFAULT_DATA_DIR;
  const clusterCa = readOptional(env.OMNIGATE_CLUSTER_CA_CERT_FILE ?? join(dataDir, "cluster-ca.crt"));
  const trust = clusterCa ? { clusterCa } : {};
  if (env.OMNIGATE_ADMIN_KEY) return { url, adminKey: env.OMNIGATE_ADMIN_KEY, ...trust };
  const file = join(dataDir, "admin.key");
  const adminKey = readOptional(file)?.trim();
  if (adminKey === undefined) {
    if (options.keyOptional) return { url, adminKey: "", ...trust };
    throw new CliError(`No admin key: set OMNIGATE_ADMIN_KEY, or OMNIGATE_DATA_DIR to the gateway's data dir (looked for ${file}).`);
  }
  if (!adminKey) throw new CliError(`The admin key file ${file} is empty.`);
  return { url, adminKey, ...trust };
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * For an https gateway: the CAs Node trusts (its bundled list and NODE_EXTRA_CA_CERTS) plus the
 * cluster CA, which signs the certificate a gateway serves when it has no front-door one.
 */
function trustingClusterCa(clusterCa: string): Agent {
  const extra = process.env.NODE_EXTRA_CA_CERTS ? (readOptional(process.env.NODE_EXTRA_CA_CERTS) ?? "") : "";
  return new Agent({ connect: { ca: [...rootCertificates, extra, clusterCa].filter(Boolean) } });
}

/** The admin API over fetch; every failure comes back as a result, never thrown. */
export class AdminClient {
  readonly #dispatcher: Agent | undefined;

  constructor(private readonly settings: CliSettings) {
    this.#dispatcher = settings.clusterCa && settings.url.startsWith("https:") ? trustingClusterCa(settings.clusterCa) : undefined;
  }

  get url(): string {
    return this.settings.url;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(`${this.settings.url}${path}`, {
        method,
        headers: {
          ...(this.settings.adminKey ? { authorization: `Bearer ${this.settings.adminKey}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      const tls = /CERT|SIGNATURE|ISSUER/.test(why)
        ? " Its certificate is not trusted here: run the CLI with OMNIGATE_DATA_DIR at the gateway's data dir (its cluster-ca.crt), or add the CA to NODE_EXTRA_CA_CERTS."
        : " Is it running? Set OMNIGATE_URL to its address.";
      return { ok: false, error: `Cannot reach the gateway at ${this.settings.url} (${why}).${tls}` };
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

  /** GET /api/events: the snapshot, then each change, until the stream ends or `signal` aborts. */
  events(options: { signal: AbortSignal; lastEventId?: string }): AsyncGenerator<StreamedEvent> {
    return followEvents(this.settings.url, this.settings.adminKey, options);
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
