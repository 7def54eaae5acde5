import type { ModelRecord } from "@omnigate/shared/models";
import type { CertificateAnswer, Heartbeat, NodeRegistration } from "@omnigate/shared/node-protocol";
import { backoffDelay } from "./backoff.js";
import { isForgotten, type GatewayClient, type GatewayResult } from "./gateway-client.js";
import type { Logger } from "./logger.js";
import { JoinRefusedError } from "./tls/node-identity.js";

/** The agent's TLS identity as the loop uses it (tls/node-identity.ts): CSRs out, certificates in. */
export interface CertificateRequester {
  registrationCsr(): Promise<string>;
  /** A CSR when renewal is due, else undefined. */
  renewalCsr(): Promise<string | undefined>;
  /** Serves the answered certificate; throws JoinRefusedError (fatal) or Error (retry). */
  accept(answer: CertificateAnswer): void;
}

/** What the loop reports and where it delivers the gateway's answers. */
export interface HeartbeatLoopDeps {
  readonly client: Pick<GatewayClient, "register" | "heartbeat">;
  readonly logger: Logger;
  readonly runtimeId: string;
  /** The registration body as of now (loaded_models changes as models become ready). */
  registration(): NodeRegistration;
  /** The heartbeat body as of now. */
  heartbeat(): Heartbeat;
  /** A marker taken just before a heartbeat is sent, handed back with its answer (see Reconciler.snapshot). */
  snapshot(): number;
  /** The gateway's desired model set, in the order heartbeats were answered. */
  onDesired(models: ModelRecord[], snapshot: number): void;
  /** A new node secret (registration) or null (the gateway forgot us): the agent API's credential. */
  onSecret(secret: string | null): void;
  /** Set when the agent serves HTTPS: registration sends a CSR, heartbeats renew at half-life. */
  readonly identity?: CertificateRequester;
  /** The agent must not join this gateway (a pinned CA that differs): the loop has stopped. */
  onFatal?(error: Error): void;
  readonly random?: () => number;
}

/** Before the gateway has told us its interval. Matches the gateway's default. */
const DEFAULT_INTERVAL_MS = 5_000;
/** First retry delay while the gateway is unreachable. */
const RETRY_BASE_MS = 250;
/** Backoff caps at this many heartbeat intervals (the node then looks offline to the gateway anyway). */
const RETRY_CAP_INTERVALS = 6;

/**
 * Registration and heartbeats as one re-armed `setTimeout` that never overlaps itself.
 *
 * - unregistered → register (retried with jittered backoff while the gateway is down);
 * - registered → heartbeat every `heartbeat_interval_ms`; a 401 or 404 `node_not_found` means the
 *   gateway forgot this node (it restarted) → register again at once;
 * - `nudge()` (a model changed state) → heartbeat now; a burst of nudges → one heartbeat in flight
 *   plus one queued behind it.
 */
export class HeartbeatLoop {
  readonly #deps: HeartbeatLoopDeps;
  readonly #log: Logger;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  /** The pending timer fires at once (a nudge); further nudges need nothing more. */
  #timerImmediate = false;
  /** The tick in progress; `stop()` waits for it. */
  #inFlight: Promise<void> | undefined;
  /** A nudge came while a tick was in flight: run another right after it. */
  #queued = false;
  #secret: string | null = null;
  /** The version of the desired set last applied: the gateway then leaves an unchanged set out. */
  #desiredVersion: string | undefined;
  #intervalMs = DEFAULT_INTERVAL_MS;
  #failures = 0;
  /** Consecutive "forgotten" answers right after registering: stops a register/401 hot loop. */
  #forgottenStreak = 0;
  #lastError: string | undefined;
  /** Cancels the call in flight on stop(): a hung gateway must not hold up shutdown. */
  #abort = new AbortController();

  constructor(deps: HeartbeatLoopDeps) {
    this.#deps = deps;
    this.#log = deps.logger;
  }

  get registered(): boolean {
    return this.#secret !== null;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#arm(0);
  }

  /** Stops the loop and waits for a call in flight; idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#queued = false;
    this.#clearTimer();
    this.#abort.abort();
    await this.#inFlight;
  }

  /** Something the gateway should know changed: heartbeat now (coalesced, never overlapping). */
  nudge(): void {
    // While the gateway is down the backoff timer decides; the next attempt carries the news anyway.
    if (!this.#running || this.#secret === null || this.#failures > 0) return;
    if (this.#inFlight) {
      this.#queued = true;
      return;
    }
    if (this.#timerImmediate) return;
    this.#arm(0);
  }

  #arm(delayMs: number): void {
    this.#clearTimer();
    if (!this.#running) return;
    this.#timerImmediate = delayMs === 0;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerImmediate = false;
      this.#inFlight = this.#tick().finally(() => {
        this.#inFlight = undefined;
      });
    }, delayMs);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerImmediate = false;
  }

  async #tick(): Promise<void> {
    let next: number;
    try {
      next = this.#secret === null ? await this.#register() : await this.#heartbeat();
    } catch (err) {
      // A bug in a body builder must not kill the loop: log it and try again later.
      this.#log.error({ err }, "heartbeat loop step failed");
      next = this.#retryDelay();
    }
    if (!this.#running) return;
    if (this.#queued && this.#secret !== null && this.#failures === 0) next = 0;
    this.#queued = false;
    this.#arm(next);
  }

  /** Returns the delay before the next step. */
  async #register(): Promise<number> {
    const identity = this.#deps.identity;
    const csr = identity ? await identity.registrationCsr() : undefined;
    const body = csr === undefined ? this.#deps.registration() : { ...this.#deps.registration(), csr };
    const result = await this.#deps.client.register(body, this.#abort.signal);
    if (!this.#running) return 0;
    if (!result.ok) return result.fatal ? this.#fatal(new JoinRefusedError(result.error)) : this.#failed("register", result);
    // The certificate is served before the secret is in use: the gateway may call at once.
    if (identity) {
      try {
        identity.accept(result.data);
      } catch (err) {
        if (err instanceof JoinRefusedError) return this.#fatal(err);
        return this.#failed("register", { ok: false, error: `certificate not usable: ${(err as Error).message}` });
      }
    }
    this.#recovered();
    this.#secret = result.data.node_secret;
    this.#desiredVersion = undefined;
    this.#intervalMs = result.data.heartbeat_interval_ms;
    this.#deps.onSecret(this.#secret);
    this.#log.info({ interval_ms: this.#intervalMs }, "registered with the gateway");
    // The first heartbeat right away: it fetches the desired models and reports current state.
    return this.#forgottenStreak > 1 ? this.#retryDelay(this.#forgottenStreak - 1) : 0;
  }

  async #heartbeat(): Promise<number> {
    const secret = this.#secret;
    if (secret === null) return 0;
    const snapshot = this.#deps.snapshot();
    const csr = await this.#deps.identity?.renewalCsr();
    const body: Heartbeat = {
      ...this.#deps.heartbeat(),
      ...(this.#desiredVersion ? { desired_version: this.#desiredVersion } : {}),
      ...(csr === undefined ? {} : { csr }),
    };
    const result = await this.#deps.client.heartbeat(this.#deps.runtimeId, secret, body, this.#abort.signal);
    if (!this.#running) return 0;
    if (!result.ok) {
      if (isForgotten(result)) {
        this.#forgottenStreak++;
        this.#secret = null;
        this.#deps.onSecret(null);
        this.#log.info({ status: result.status, code: result.code }, "the gateway no longer knows this node; registering again");
        return 0;
      }
      return this.#failed("heartbeat", result);
    }
    if (result.data.certificate !== undefined) {
      try {
        this.#deps.identity?.accept(result.data);
      } catch (err) {
        if (err instanceof JoinRefusedError) return this.#fatal(err);
        // The current certificate stays in service; the next heartbeat asks again.
        this.#log.warn({ error: (err as Error).message }, "renewed certificate not usable; keeping the current one");
      }
    }
    this.#recovered();
    this.#forgottenStreak = 0;
    this.#intervalMs = result.data.heartbeat_interval_ms;
    // No models = the set we hold is current (an older gateway always sends them).
    if (result.data.models) {
      this.#deps.onDesired(result.data.models, snapshot);
      this.#desiredVersion = result.data.desired_version;
    }
    return this.#intervalMs;
  }

  #failed(step: string, result: Extract<GatewayResult<unknown>, { ok: false }>): number {
    this.#failures++;
    const fields = { step, status: result.status, error: result.error, attempt: this.#failures };
    // Warn when the gateway goes away or the reason changes; repeat only at debug. A refusal
    // (a removed node, a wrong token) is not the gateway being away: say which it is.
    const refused = result.status === 401 || result.status === 403;
    const what = refused ? "the gateway refuses this node; retrying with backoff" : "cannot reach the gateway; retrying with backoff";
    if (this.#failures === 1 || result.error !== this.#lastError) this.#log[refused ? "error" : "warn"](fields, what);
    else this.#log.debug(fields, refused ? "the gateway still refuses this node" : "gateway still unreachable");
    this.#lastError = result.error;
    return this.#retryDelay();
  }

  /** Stops for good: joining this gateway is refused. */
  #fatal(error: Error): number {
    this.#running = false;
    this.#log.error({ error: error.message }, "refusing to join the gateway");
    this.#deps.onFatal?.(error);
    return 0;
  }

  #recovered(): void {
    if (this.#failures > 0) this.#log.info({ after_attempts: this.#failures }, "gateway reachable again");
    this.#failures = 0;
    this.#lastError = undefined;
  }

  #retryDelay(attempt = this.#failures): number {
    return backoffDelay(attempt, {
      baseMs: Math.min(RETRY_BASE_MS, this.#intervalMs),
      maxMs: this.#intervalMs * RETRY_CAP_INTERVALS,
      ...(this.#deps.random ? { random: this.#deps.random } : {}),
    });
  }
}
