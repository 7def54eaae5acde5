import { request } from "undici";
import { z } from "zod";
import type { GgufSource } from "@omnigate/shared/gguf";

/** One file of a revision, as the hub lists it. */
export interface HubFile {
  readonly path: string;
  readonly size: number;
}

const RevisionInfo = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) });
const TreeEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative().optional(),
  lfs: z.object({ size: z.number().int().nonnegative() }).nullish(),
});

/** Range reads come in blocks this big: one round trip covers a typical header, a few a large vocabulary. */
const BLOCK = 1024 * 1024;
/** A header bigger than this is not read (nothing real comes close: vocabularies are a few MiB). */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** `transient`: the hub could not answer (unreachable, 5xx, 429); otherwise it answered no. */
/** What a hub request is about, for its errors: the repo, and the thing read ("file list of org/x"). */
interface Call {
  readonly repo: string;
  readonly what: string;
}

export class HubReadError extends Error {
  override name = "HubReadError";
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/**
 * What the gateway reads from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN), never whole files: the
 * commit a revision is at, the file list with sizes, and GGUF headers through HTTP `Range`. The
 * token goes only to the hub's own origin, never to the CDN a download redirects to.
 */
export class HubReader {
  readonly #endpoint: string;
  readonly #origin: string;

  constructor(
    endpoint: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {
    this.#endpoint = endpoint.replace(/\/+$/, "");
    this.#origin = new URL(this.#endpoint).origin;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  async resolveCommit(repo: string, revision: string, signal?: AbortSignal): Promise<string> {
    const body = await this.#json(`${this.#endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`, { repo, what: `${repo}@${revision}` }, signal);
    const info = RevisionInfo.safeParse(body);
    if (!info.success) throw new HubReadError(`the hub sent no commit hash for ${repo}@${revision}`);
    return info.data.sha;
  }

  async listFiles(repo: string, commit: string, signal?: AbortSignal): Promise<HubFile[]> {
    const files: HubFile[] = [];
    let url: string | undefined = `${this.#endpoint}/api/models/${repo}/tree/${commit}?recursive=true&expand=false`;
    for (let page = 0; url && page < 10_000; page++) {
      const { body, link }: { body: unknown; link: string | undefined } = await this.#jsonWithLink(url, { repo, what: `file list of ${repo}` }, signal);
      const entries = z.array(TreeEntry).safeParse(body);
      if (!entries.success) throw new HubReadError(`the hub sent a malformed file list for ${repo}`);
      for (const e of entries.data) {
        const size = e.lfs ? e.lfs.size : e.size;
        if (e.type === "file" && size !== undefined) files.push({ path: e.path, size });
      }
      const next: URL | undefined = link ? new URL(link, url) : undefined;
      url = next && next.origin === this.#origin ? next.href : undefined;
    }
    return files;
  }

  /** A GGUF file of the repo as a source of header bytes, read in `Range` blocks on demand. */
  async ggufSource(repo: string, commit: string, path: string, signal?: AbortSignal): Promise<GgufSource> {
    const url = `${this.#endpoint}/${repo}/resolve/${commit}/${path.split("/").map(encodeURIComponent).join("/")}`;
    const call: Call = { repo, what: path };
    const blocks = new Map<number, Buffer>();
    const first = await this.#range(url, 0, BLOCK - 1, call, signal);
    blocks.set(0, first.bytes);
    const size = first.total;
    const block = async (index: number): Promise<Buffer> => {
      let b = blocks.get(index);
      if (!b) {
        if ((index + 1) * BLOCK > MAX_HEADER_BYTES) throw new HubReadError(`the header of ${path} is over ${MAX_HEADER_BYTES / 1024 / 1024} MiB`);
        b = (await this.#range(url, index * BLOCK, Math.min(size, (index + 1) * BLOCK) - 1, call, signal)).bytes;
        blocks.set(index, b);
      }
      return b;
    };
    return {
      size,
      async read(buf, offset, length, position) {
        let done = 0;
        while (done < length && position + done < size) {
          const at = position + done;
          const b = await block(Math.floor(at / BLOCK));
          const from = at % BLOCK;
          const n = Math.min(length - done, b.length - from);
          if (n <= 0) break;
          b.copy(buf, offset + done, from, from + n);
          done += n;
        }
        return done;
      },
    };
  }

  async #json(url: string, call: Call, signal?: AbortSignal): Promise<unknown> {
    return (await this.#jsonWithLink(url, call, signal)).body;
  }

  async #jsonWithLink(url: string, call: Call, signal?: AbortSignal): Promise<{ body: unknown; link: string | undefined }> {
    const res = await this.#get(url, {}, call, signal);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw this.#statusError(res.statusCode, res.headers["x-error-code"], call);
    const link = nextLink(String(res.headers.link ?? ""));
    try {
      return { body: JSON.parse(text), link };
    } catch {
      throw new HubReadError(`the hub sent no JSON for ${call.what}`);
    }
  }

  /** Bytes [start, end] of `url` and the file's total size; a server that ignores Range is read up to `end` only. */
  async #range(url: string, start: number, end: number, call: Call, signal?: AbortSignal): Promise<{ bytes: Buffer; total: number }> {
    const res = await this.#get(url, { range: `bytes=${start}-${end}` }, call, signal);
    if (res.statusCode !== 206 && res.statusCode !== 200) {
      await res.body.dump();
      throw this.#statusError(res.statusCode, res.headers["x-error-code"], call);
    }
    const chunks: Buffer[] = [];
    let got = 0;
    const skip = res.statusCode === 200 ? start : 0;
    const want = end - start + 1;
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= skip + want) break;
    }
    res.body.destroy();
    const all = Buffer.concat(chunks).subarray(skip, skip + want);
    const range = /\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""));
    const total = range ? Number(range[1]) : Number(res.headers["content-length"] ?? all.length);
    return { bytes: all, total };
  }

  /** One GET, following redirects by hand: the token only ever goes to the hub's origin. */
  async #get(url: string, headers: Record<string, string>, call: Call, signal?: AbortSignal) {
    let current = url;
    for (let hop = 0; hop < 6; hop++) {
      const auth = this.token && new URL(current).origin === this.#origin ? { authorization: `Bearer ${this.token}` } : {};
      let res;
      try {
        res = await request(current, {
          method: "GET",
          headers: { "user-agent": "omnigate-gateway", "accept-encoding": "identity", ...headers, ...auth },
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        const e = err as { code?: string; message?: string; cause?: { code?: string } };
        throw new HubReadError(`cannot reach the hub at ${this.#endpoint} for ${call.what}: ${e.code ?? e.cause?.code ?? e.message ?? String(err)}`, true);
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === "string") {
        await res.body.dump();
        current = new URL(location, current).href;
        continue;
      }
      return res;
    }
    throw new HubReadError(`too many redirects reading ${call.what}`);
  }

  /** A refusal in the words the agent's hub client uses (X-Error-Code first, as huggingface_hub does). */
  #statusError(status: number, errorCode: unknown, { repo, what }: Call): HubReadError {
    const hasToken = this.token !== undefined;
    const where = this.#endpoint;
    switch (errorCode) {
      case "RepoNotFound":
        return new HubReadError(
          status === 401 && !hasToken
            ? `repository '${repo}' not found on ${where}, or it is private: check the name, or set HF_TOKEN on the gateway`
            : `repository '${repo}' not found on ${where}: check the name${hasToken ? " (and that the gateway's HF_TOKEN can see it)" : ""}`,
        );
      case "GatedRepo":
        return new HubReadError(
          hasToken
            ? `repository '${repo}' is gated and the gateway's HF_TOKEN has no access: accept its terms at ${where}/${repo}`
            : `repository '${repo}' is gated or private: accept its terms at ${where}/${repo} and set HF_TOKEN on the gateway`,
        );
      case "RevisionNotFound":
        return new HubReadError(`revision '${what}' not found: use a branch, tag or commit that exists`);
      case "EntryNotFound":
        return new HubReadError(`file '${what}' not found in repository '${repo}'`);
      default:
        break;
    }
    if (status === 401 || status === 403) {
      return new HubReadError(`the hub refused ${what} (${status}): ${hasToken ? "the gateway's HF_TOKEN has no access" : "set HF_TOKEN on the gateway for private or gated repos"}`);
    }
    if (status === 404) return new HubReadError(`the hub has no ${what} (404)`);
    return new HubReadError(`the hub answered ${status} for ${what}`, status === 408 || status === 429 || status >= 500);
  }
}

function nextLink(header: string): string | undefined {
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}
