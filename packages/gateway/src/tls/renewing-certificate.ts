import { EventEmitter } from "node:events";
import type { Logger } from "../logger.js";
import type { OwnCertificate } from "./certificate-issuer.js";

/** Shortest wait before retrying a failed renewal. */
const RETRY_MS = 10_000;
/** setTimeout's longest delay (a longer one fires at once): a certificate that lives longer is renewed early. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * A certificate the gateway issues itself (its client certificate for agents, its listener's
 * cluster certificate): made at start, made again at half its life, kept in memory only. Users
 * read `current` for each new connection and listen to "renewed" to rebuild what caches it.
 */
export class RenewingCertificate extends EventEmitter<{ renewed: [OwnCertificate] }> {
  #current: OwnCertificate;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(
    first: OwnCertificate,
    private readonly issue: () => Promise<OwnCertificate>,
    private readonly log: Logger,
    private readonly what: string,
    private readonly now: () => number,
  ) {
    super();
    this.#current = first;
    this.#arm();
  }

  static async start(what: string, issue: () => Promise<OwnCertificate>, log: Logger, now: () => number = Date.now): Promise<RenewingCertificate> {
    return new RenewingCertificate(await issue(), issue, log, what, now);
  }

  get current(): OwnCertificate {
    return this.#current;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #arm(delayMs = this.#halfLifeFromNow()): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#renew(), Math.min(MAX_DELAY_MS, Math.max(0, delayMs)));
    this.#timer.unref();
  }

  /** Half of the time between now-ish (issue time: notBefore is back-dated) and expiry. */
  #halfLifeFromNow(): number {
    return (this.#current.notAfter - this.now()) / 2;
  }

  async #renew(): Promise<void> {
    try {
      this.#current = await this.issue();
      this.log.info({ certificate: this.what, serial: this.#current.serial, not_after: new Date(this.#current.notAfter).toISOString() }, "renewed the gateway's certificate");
      this.emit("renewed", this.#current);
      this.#arm();
    } catch (err) {
      this.log.error({ err, certificate: this.what }, "renewing the gateway's certificate failed; retrying");
      this.#arm(Math.min(RETRY_MS, this.#halfLifeFromNow()));
    }
  }
}
