import { connect } from "node:net";

/**
 * Request bodies that arrive the way they do over a real network: in chunks, a little at a time, so
 * a server that answers early is still being sent to (on loopback a whole body otherwise lands in
 * the socket buffers at once). Each upload records whether it was sent to the end: a server that
 * cuts the connection stops it halfway.
 */

export interface Upload {
  /** Bytes handed to the connection so far. */
  sent: number;
  /** The whole body went out. */
  finished: boolean;
}

export interface TrickleOptions {
  /** Bytes per chunk (default 64 KiB). */
  readonly chunkBytes?: number;
  /** Pause between chunks (default 1 ms). */
  readonly delayMs?: number;
}

/** `bytes` as a stream that trickles out; `upload` tells how far it got. */
export function trickle(bytes: Uint8Array, options: TrickleOptions = {}): { body: ReadableStream<Uint8Array>; upload: Upload } {
  const chunk = options.chunkBytes ?? 64 * 1024;
  const upload: Upload = { sent: 0, finished: false };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (upload.sent >= bytes.length) {
        upload.finished = true;
        controller.close();
        return;
      }
      await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
      const next = bytes.subarray(upload.sent, upload.sent + chunk);
      upload.sent += next.length;
      controller.enqueue(next);
    },
  });
  return { body, upload };
}

/**
 * A `fetch` for clients that take one (the openai SDK's `fetch` option) that sends every request
 * body as a trickle; `uploads` lists each request's upload, in order.
 */
export function tricklingFetch(options: TrickleOptions = {}): { fetch: typeof fetch; uploads: Upload[] } {
  const uploads: Upload[] = [];
  const wrapped = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (init.body === undefined || init.body === null) return fetch(input, init);
    // Encoded once: a form's boundary in its content type must match its bytes.
    const encoded = new Response(init.body);
    const headers = new Headers(init.headers);
    const type = encoded.headers.get("content-type");
    if (!headers.has("content-type") && type) headers.set("content-type", type);
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const { body, upload } = trickle(bytes, options);
    uploads.push(upload);
    return fetch(input, { ...init, headers, body, duplex: "half" } as RequestInit);
  };
  return { fetch: wrapped as typeof fetch, uploads };
}

export interface RawUploadResult {
  /** What writing failed with (`EPIPE`, `ECONNRESET`): the server cut the connection under us. */
  readonly writeError: string | undefined;
  /** Everything the server sent back, as text. */
  readonly received: string;
  /** The follow-up `GET <followUp>` on the same connection got an answer: it stayed usable. */
  readonly reused: boolean;
}

/**
 * A client that keeps sending its whole body whatever the server answers meanwhile, as curl and
 * most HTTP libraries do (fetch is the exception: it stops on an early answer): a raw socket writes
 * the request head, then `bodyBytes` in trickled chunks (`chunked` transfer encoding, or a
 * Content-Length), then a `GET <followUp>` on the same connection.
 */
export async function rawUpload(
  url: string,
  request: { readonly path: string; readonly headers: Record<string, string>; readonly bodyBytes: number; readonly chunked?: boolean; readonly followUp: string },
  options: TrickleOptions = {},
): Promise<RawUploadResult> {
  const { host, hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ""));
  let received = "";
  let writeError: string | undefined;
  socket.setEncoding("utf8").on("data", (text: string) => (received += text));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", (err: NodeJS.ErrnoException) => (writeError ??= err.code ?? err.message));
  const write = (data: string | Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) return resolve();
      socket.write(data, (err) => {
        if (err) writeError ??= (err as NodeJS.ErrnoException).code ?? err.message;
        resolve();
      });
    });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const head = Object.entries({ host: `${host}`, ...request.headers, ...(request.chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(request.bodyBytes) }) })
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n");
  await write(`POST ${request.path} HTTP/1.1\r\n${head}\r\n\r\n`);
  const chunk = Buffer.alloc(options.chunkBytes ?? 64 * 1024, 120);
  for (let sent = 0; sent < request.bodyBytes && !writeError; sent += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, request.bodyBytes - sent));
    await write(request.chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")]) : part);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
  }
  if (request.chunked) await write("0\r\n\r\n");
  await write(`GET ${request.followUp} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  // Two answers (the upload's and the follow-up's), or the connection's end.
  const answers = (): number => received.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !socket.destroyed && answers() < 2) await new Promise((r) => setTimeout(r, 10));
  const reused = answers() >= 2;
  socket.end();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000))]);
  socket.destroy();
  return { writeError, received, reused };
}
