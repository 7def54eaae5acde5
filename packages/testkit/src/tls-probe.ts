/**
 * One request on a connection of its own, with exactly the TLS credentials a test gives (or plain
 * HTTP): what a handshake refuses, and which certificate a server presents.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";

export interface ProbeOptions {
  readonly method?: string;
  /** CA(s) to verify the server with (PEM); unset = do not verify (to see what it presents). */
  readonly ca?: string;
  /** A client certificate and its key (PEM). */
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly token?: string;
  readonly timeoutMs?: number;
}

export type ProbeResult =
  | { readonly ok: true; readonly status: number; readonly body: string; readonly peerSerial: string | undefined }
  | { readonly ok: false; readonly error: string; readonly code: string | undefined };

/** Never throws: a refused handshake or connection comes back as `{ ok: false, code }`. */
export function probe(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const target = new URL(url);
  const tls = target.protocol === "https:";
  return new Promise((resolve) => {
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const common = { method: options.method ?? "GET", headers, agent: false as const, timeout: options.timeoutMs ?? 10_000 };
    const req = tls
      ? httpsRequest(target, {
          ...common,
          rejectUnauthorized: options.ca !== undefined,
          ...(options.ca ? { ca: options.ca } : {}),
          ...(options.cert ? { cert: options.cert, key: options.key } : {}),
          ...(options.servername ? { servername: options.servername } : {}),
        })
      : httpRequest(target, common);
    req.on("response", (res) => {
      const peer = tls ? (res.socket as TLSSocket).getPeerCertificate() : undefined;
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ ok: true, status: res.statusCode ?? 0, body, peerSerial: peer?.serialNumber }));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.message, code: err.code }));
    req.end();
  });
}
