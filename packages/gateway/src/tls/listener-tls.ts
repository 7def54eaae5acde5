import { unwatchFile, watchFile } from "node:fs";
import { hostname } from "node:os";
import type { Server as HttpsServer, ServerOptions } from "node:https";
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import { CLUSTER_SERVER_NAME, MODERN_TLS12_CIPHERS, isLoopbackHost } from "@omnigate/shared/tls";
import type { Logger } from "../logger.js";
import { readCertKeyPair, type CertKeyPair, type PemSource } from "./pem-files.js";
import type { RenewingCertificate } from "./renewing-certificate.js";
import type { TlsConfig } from "./tls-env.js";

/** How often the front door's files are checked for a change (a stat each: nothing). */
const WATCH_INTERVAL_MS = 1_000;
/** A rotation writes two files: wait for the second before reading the pair. */
const SETTLE_MS = 200;

/** HTTP/1.1 only (the OpenAI API needs nothing else), TLS 1.2 with modern suites or TLS 1.3. */
const PROTOCOL_OPTIONS = { minVersion: "TLSv1.2", ciphers: MODERN_TLS12_CIPHERS } as const satisfies SecureContextOptions;

/** Whether the listener speaks TLS (OMNIGATE_TLS, the host, and whether a certificate was given). */
export function listenerUsesTls(config: Pick<TlsConfig, "OMNIGATE_TLS" | "OMNIGATE_TLS_CERT_FILE"> & { OMNIGATE_HOST: string }): boolean {
  if (config.OMNIGATE_TLS === "off") return false;
  return config.OMNIGATE_TLS === "on" || config.OMNIGATE_TLS_CERT_FILE !== undefined || !isLoopbackHost(config.OMNIGATE_HOST);
}

/** Names in the certificate the gateway issues its listener: the cluster name, this box, and what the operator adds. */
export function listenerNames(config: Pick<TlsConfig, "OMNIGATE_TLS_SAN"> & { OMNIGATE_HOST: string }): string[] {
  const names = [CLUSTER_SERVER_NAME, "localhost", "127.0.0.1", "::1", hostname()];
  if (!["0.0.0.0", "::", ""].includes(config.OMNIGATE_HOST)) names.push(config.OMNIGATE_HOST);
  names.push(...config.OMNIGATE_TLS_SAN.split(",").map((s) => s.trim()).filter(Boolean));
  return [...new Set(names.map((n) => n.replace(/^\[|\]$/g, "").toLowerCase()))];
}

/**
 * The listener's certificates. Two may be served: the front door's (OMNIGATE_TLS_CERT_FILE, for
 * clients), and the gateway's own from the cluster CA (always, renewed at half its life) for
 * agents that ask for CLUSTER_SERVER_NAME — how a pinned agent checks it talks to this cluster's
 * gateway whatever the front door presents. Without a front-door certificate every client gets the
 * cluster one. The front door's files are re-read when they change or on `reload()` (SIGHUP) and
 * apply to new connections; open ones keep theirs, so nothing is dropped.
 */
export class ListenerTls {
  #front: { pair: CertKeyPair; context: SecureContext } | null;
  #cluster: SecureContext;
  #server: HttpsServer | undefined;
  #settle: NodeJS.Timeout | undefined;
  readonly #files: { cert: PemSource; key: PemSource } | null;

  constructor(
    private readonly own: RenewingCertificate,
    config: Pick<TlsConfig, "OMNIGATE_TLS_CERT_FILE" | "OMNIGATE_TLS_KEY_FILE">,
    private readonly log: Logger,
  ) {
    this.#files =
      config.OMNIGATE_TLS_CERT_FILE && config.OMNIGATE_TLS_KEY_FILE
        ? {
            cert: { file: config.OMNIGATE_TLS_CERT_FILE, variable: "OMNIGATE_TLS_CERT_FILE" },
            key: { file: config.OMNIGATE_TLS_KEY_FILE, variable: "OMNIGATE_TLS_KEY_FILE" },
          }
        : null;
    // At start a bad file is fatal (TlsFileError names it); later, a bad rotation keeps the old pair.
    this.#front = this.#files ? this.#load(readCertKeyPair(this.#files.cert, this.#files.key)) : null;
    this.#cluster = createSecureContext(this.#ownOptions());
    own.on("renewed", () => {
      this.#cluster = createSecureContext(this.#ownOptions());
      if (!this.#front) this.#server?.setSecureContext(this.#ownOptions());
    });
  }

  /** Options for `https.createServer`. */
  serverOptions(): ServerOptions {
    return {
      ...this.#defaultOptions(),
      ALPNProtocols: ["http/1.1"],
      SNICallback: (servername, callback) => {
        callback(null, servername.toLowerCase() === CLUSTER_SERVER_NAME || !this.#front ? this.#cluster : this.#front.context);
      },
    };
  }

  /** Starts following the front door's files for `server` (a no-op without them). */
  attach(server: HttpsServer): void {
    this.#server = server;
    if (!this.#files) return;
    const onChange = (): void => {
      clearTimeout(this.#settle);
      this.#settle = setTimeout(() => this.reload(), SETTLE_MS);
    };
    for (const f of [this.#files.cert.file, this.#files.key.file]) watchFile(f, { interval: WATCH_INTERVAL_MS, persistent: false }, onChange);
  }

  /** Re-reads the front door's files; a pair that does not load is logged and the current one kept. */
  reload(): boolean {
    if (!this.#files) return false;
    let pair: CertKeyPair;
    try {
      pair = readCertKeyPair(this.#files.cert, this.#files.key);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "the front door's certificate files do not load; still serving the previous certificate");
      return false;
    }
    if (this.#front && pair.certPem === this.#front.pair.certPem && pair.keyPem === this.#front.pair.keyPem) return false;
    this.#front = this.#load(pair);
    this.#server?.setSecureContext(this.#defaultOptions());
    return true;
  }

  /** Unix ms when the front door's certificate expires (null: none configured). */
  get frontDoorNotAfter(): number | null {
    return this.#front ? Date.parse(this.#front.pair.leaf.validTo) : null;
  }

  close(): void {
    clearTimeout(this.#settle);
    if (this.#files) for (const f of [this.#files.cert.file, this.#files.key.file]) unwatchFile(f);
  }

  #load(pair: CertKeyPair): { pair: CertKeyPair; context: SecureContext } {
    this.log.info(
      { file: this.#files?.cert.file, subject: pair.leaf.subject.replace(/\n/g, ", "), serial: pair.leaf.serialNumber, not_after: new Date(pair.leaf.validTo).toISOString() },
      "front door certificate loaded",
    );
    return { pair, context: createSecureContext({ ...PROTOCOL_OPTIONS, key: pair.keyPem, cert: pair.certPem }) };
  }

  #ownOptions(): SecureContextOptions {
    return { ...PROTOCOL_OPTIONS, key: this.own.current.keyPem, cert: this.own.current.pem };
  }

  /** What a client without SNI (one that calls an IP address) gets. */
  #defaultOptions(): SecureContextOptions {
    return this.#front ? { ...PROTOCOL_OPTIONS, key: this.#front.pair.keyPem, cert: this.#front.pair.certPem } : this.#ownOptions();
  }
}
