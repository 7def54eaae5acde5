import type { NodeRegistrationParsed } from "@omnigate/shared/node-protocol";
import { ApiError } from "@omnigate/shared/errors";
import type { Logger } from "../logger.js";
import type { GatewayMetrics } from "../metrics/gateway-metrics.js";
import type { NodeEntry, NodeRegistry } from "../nodes/node-registry.js";
import type { WaitQueues } from "../scheduling/queue.js";
import { resolveReadiness, type PlacementLookup, type ReadyTarget } from "../scheduling/readiness.js";
import type { ModelLookup } from "../store/model-store.js";
import type { OutlierDetector } from "../scheduling/scheduler-outlier.js";
import type { Lease, Scheduler } from "../scheduling/scheduler.js";
import type { AgentPools } from "./agent-pools.js";
import type { EndpointSpec } from "@omnigate/shared/endpoints";
import type { ParsedRequest } from "./parse-request.js";
import {
  UpstreamAttempt,
  type AttemptOutcome,
  type AttemptTimeouts,
  type FailureReason,
  type ProxyExchange,
} from "./upstream-attempt.js";

export interface ForwarderDeps {
  readonly models: ModelLookup;
  readonly nodes: NodeRegistry;
  readonly placement: PlacementLookup;
  readonly scheduler: Scheduler;
  readonly queues: WaitQueues<Lease>;
  readonly outliers: OutlierDetector;
  readonly pools: AgentPools;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly maxAttempts: number;
  readonly timeouts: AttemptTimeouts;
}

/** How the gateway reaches one agent; derived once per registration, not per request. */
interface AgentAddress {
  readonly registration: NodeRegistrationParsed;
  readonly origin: string;
  /** agent_url's path, for an agent behind a path prefix ("" normally). */
  readonly prefix: string;
  readonly authorization: string;
}

const addresses = new WeakMap<NodeEntry, AgentAddress>();

export function agentAddress(node: NodeEntry): AgentAddress {
  let a = addresses.get(node);
  if (!a || a.registration !== node.registration) {
    const url = new URL(node.registration.agent_url);
    a = {
      registration: node.registration,
      origin: url.origin,
      prefix: url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname,
      authorization: `Bearer ${node.secret}`,
    };
    addresses.set(node, a);
  }
  return a;
}

/** Every node that could take the request was tried (or none is left ready). */
class NodesExhausted extends Error {
  override name = "NodesExhausted";
}

/**
 * Sends one request to a ready node and, when a node fails before any byte reached the client
 * (refused, reset, 5xx, or 404 model_not_found: its readiness was stale), to the next one, up to OMNIGATE_PROXY_MAX_ATTEMPTS tries. Every try holds
 * a scheduler lease that is released however the try ends.
 */
export class Forwarder {
  readonly #d: ForwarderDeps;

  constructor(deps: ForwarderDeps) {
    this.#d = deps;
  }

  /** Answers the client, or throws an ApiError for the error middleware (nothing sent yet). */
  async forward(x: ProxyExchange, spec: EndpointSpec, req: ParsedRequest): Promise<void> {
    const d = this.#d;
    const model = req.model;
    // Readiness errors (404, 503 not ready) go to the client at once, before any queueing.
    const first = resolveReadiness(d.models, d.nodes, d.placement, model, spec.capability);
    const tried = new Set<string>();
    const failures: string[] = [];
    let retriedSameNode = false;
    // Every failure so far was a node whose readiness was stale (404 model_not_found): the client
    // then gets the readiness answer (503 model_not_ready, Retry-After), not a 502.
    let staleOnly = true;
    for (let attempt = 1; ; attempt++) {
      let targets: readonly ReadyTarget[] = first.targets;
      // The usual case first: nobody waits for the model and a node has a free slot (no promise).
      let lease = attempt === 1 ? this.#freeSlot(model, targets) : undefined;
      if (!lease) {
        const tryAcquire = (fromQueue: boolean): Lease | undefined | Error => {
          if (fromQueue || attempt > 1) {
            try {
              targets = resolveReadiness(d.models, d.nodes, d.placement, model, spec.capability).targets;
            } catch (err) {
              // Waiting: a deleted model ends the wait, a model not ready (yet, again) does not.
              if (attempt === 1) return err instanceof ApiError && err.status === 404 ? err : undefined;
              return staleOnly && err instanceof ApiError ? err : new NodesExhausted();
            }
          }
          const target = d.scheduler.pick(model, targets, tried.size > 0 ? tried : undefined);
          if (target) return d.scheduler.acquire(model, target);
          if (tried.size > 0 && !d.scheduler.hasAlternative(targets, tried)) return new NodesExhausted();
          return undefined;
        };
        try {
          lease = await d.queues.acquire(model, tryAcquire, {
            narrowed: tried.size > 0,
            onWait: (cancel) => (x.cancelWait = cancel),
          });
        } catch (err) {
          if (err instanceof NodesExhausted) throw exhausted(model, failures);
          throw err;
        } finally {
          x.cancelWait = undefined;
        }
      }
      const node = lease.target.node;
      let outcome: AttemptOutcome;
      try {
        if (x.clientGone) return;
        const id = node.runtimeId;
        const canFailover =
          attempt < d.maxAttempts && targets.length > 1 && targets.some((t) => t.node.runtimeId !== id && !tried.has(t.node.runtimeId));
        outcome = await this.#attempt(x, node, spec, req, canFailover);
      } finally {
        lease.release();
      }
      if (outcome.kind === "answered") {
        d.metrics.nodeAnswered(node.runtimeId);
        if (outcome.nodeFailed) this.#failed(x, node, outcome.nodeFailed, `answered ${outcome.status}`);
        else if (outcome.status !== 499) d.outliers.success(node);
        return;
      }
      this.#failed(x, node, outcome.reason, outcome.detail);
      failures.push(`node ${node.runtimeId.slice(0, 8)}: ${outcome.detail}`);
      if (outcome.modelGone) {
        // The node dropped the model after its last heartbeat said ready: no more traffic for it
        // there until it reports again. Not a node fault, so outlier detection is not told.
        d.nodes.markNotReady(node, model);
      } else {
        staleOnly = false;
      }
      // A node that took the request and then went silent for the first-byte timeout is not
      // retried: another node would likely keep the client waiting as long again.
      if (outcome.reason === "timeout") {
        throw new ApiError(
          "upstream_timeout",
          `The node serving model '${model}' sent nothing within ${d.timeouts.firstByteMs} ms. Retry later, or raise OMNIGATE_PROXY_FIRST_BYTE_TIMEOUT_MS.`,
        );
      }
      if (attempt >= d.maxAttempts) {
        if (staleOnly) resolveReadiness(d.models, d.nodes, d.placement, model, spec.capability);
        throw exhausted(model, failures);
      }
      // A reset may be a keep-alive socket the agent had just closed (docs/engines.md, llama.cpp's keep-alive pitfall): the
      // same node gets one more try on a fresh connection when no other node is left.
      const others = targets.some((t) => t.node.runtimeId !== node.runtimeId && !tried.has(t.node.runtimeId));
      if (outcome.reason === "reset" && !others && !retriedSameNode) retriedSameNode = true;
      else tried.add(node.runtimeId);
      d.metrics.failover(model);
    }
  }

  /** A slot on the least loaded ready node, when no request waits for the model; else undefined (queue.ts decides). */
  #freeSlot(model: string, targets: readonly ReadyTarget[]): Lease | undefined {
    const d = this.#d;
    if (d.queues.depth(model) > 0) return undefined;
    const target = d.scheduler.pick(model, targets);
    return target && d.scheduler.acquire(model, target);
  }

  #attempt(x: ProxyExchange, node: NodeEntry, spec: EndpointSpec, req: ParsedRequest, canFailover: boolean): Promise<AttemptOutcome> {
    const agent = agentAddress(node);
    return new Promise<AttemptOutcome>((resolve) => {
      const handler = new UpstreamAttempt(x, this.#d.timeouts, canFailover, resolve);
      this.#d.pools.get(agent.origin).dispatch(
        {
          path: agent.prefix + spec.path,
          method: "POST",
          headers: { "content-type": req.contentType, authorization: agent.authorization, "x-request-id": x.id },
          body: req.body,
        },
        handler,
      );
    });
  }

  #failed(x: ProxyExchange, node: NodeEntry, reason: FailureReason, detail: string): void {
    if (reason !== "unavailable") this.#d.outliers.failure(node, detail);
    this.#d.metrics.upstreamFailure(node.runtimeId, reason);
    this.#d.log.warn({ request_id: x.id, node: node.runtimeId, reason, detail }, "node failed a request");
  }
}

function exhausted(model: string, failures: readonly string[]): ApiError {
  const what = failures.length ? failures.join("; ") : "no ready node was left to try";
  return new ApiError(
    "upstream_error",
    `No node could serve model '${model}' (${what}). Retry in a few seconds; GET /api/nodes shows the nodes' state.`,
  );
}
