import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ApiError } from "@omnigate/shared/errors";
import { isLoopbackHost } from "@omnigate/shared/tls";
import { stopAccepting } from "@omnigate/server-kit/shutdown";
import type { GatewayConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { createApp } from "./app.js";
import { openStore, type Store } from "./store/store.js";
import { NodeRegistry } from "./nodes/node-registry.js";
import { OfflineSweeper } from "./nodes/offline-sweeper.js";
import { Authenticator } from "./auth/authenticator.js";
import { CLIENT_OR_ADMIN, check } from "./auth/require-auth.js";
import { loadClusterCredentials, type ClusterCredentials } from "./auth/credentials.js";
import { createDataPlane, type DataPlane } from "./proxy/data-plane.js";
import { NodeAdmin } from "./nodes/node-admin.js";
import { HubReader } from "./placement/hub-reader.js";
import { ModelEstimator } from "./placement/model-estimator.js";
import { PlacementController } from "./placement/placement-controller.js";
import { startClusterTls, type ClusterTls } from "./tls/cluster-tls.js";
import { EventBus } from "./events/event-bus.js";
import { StatsWindow } from "./metrics/stats-window.js";
import { feedModelStatus } from "./models/model-status-feed.js";
import { dashboardDir as builtDashboardDir } from "@omnigate/dashboard";

export interface RunningGateway {
  /** `http(s)://host:port` as bound (the real port when OMNIGATE_PORT=0). */
  readonly url: string;
  readonly port: number;
  /** In-process only (tools, tests): the values and the files they live in. Never log them. */
  readonly credentials: ClusterCredentials;
  readonly nodes: NodeRegistry;
  readonly store: Store;
  readonly placement: PlacementController;
  readonly tls: ClusterTls;
  /** Re-reads the front door's certificate files (SIGHUP); true when a new pair is served from now on. */
  reloadTls(): boolean;
  readonly events: EventBus;
  /** Where the dashboard is served from; undefined when switched off. */
  readonly dashboardDir: string | undefined;
  /** Stop accepting → close the data plane (refuse queued, finish running) → drain → close the store. Same promise when called twice. */
  close(): Promise<void>;
}

/** Opens the store, builds the app and listens: everything main.ts does except signals. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const credentials = loadClusterCredentials(config.OMNIGATE_DATA_DIR, config, logger);
  const events = new EventBus();
  const store = openStore(config.OMNIGATE_DATA_DIR, events);
  let tls: ClusterTls;
  try {
    tls = await startClusterTls(config, store.certificates, logger);
  } catch (err) {
    store.close();
    throw err;
  }
  const nodes = new NodeRegistry({ timeoutMs: config.OMNIGATE_NODE_TIMEOUT_MS, events });
  const stats = new StatsWindow();
  const dashboardDir = config.OMNIGATE_DASHBOARD_DIR === "off" ? undefined : (config.OMNIGATE_DASHBOARD_DIR ?? builtDashboardDir);
  // Check several times per timeout so "offline" is noticed soon after it becomes true.
  const sweeper = new OfflineSweeper(nodes, Math.max(50, Math.min(1_000, Math.floor(config.OMNIGATE_NODE_TIMEOUT_MS / 4))), logger.child({ component: "nodes" }));
  let dataPlane: DataPlane | null = null;
  let closing = false;
  let server: Server;
  const admin = new NodeAdmin(store.placement);
  const estimator = new ModelEstimator(new HubReader(config.HF_ENDPOINT, config.HF_TOKEN?.trim() || undefined, config.OMNIGATE_HUB_TIMEOUT_MS), store.placement, logger);
  let inFlight: (node: string, model: string) => number = () => 0;
  const placement = new PlacementController({
    models: store.models,
    nodes,
    admin,
    estimator,
    store: store.placement,
    inFlight: (node, model) => inFlight(node, model),
    replaceAfterMs: config.OMNIGATE_REPLACE_AFTER_MS,
    logger,
  });
  // Node views (the API's and the event stream's) show the admin state and the ledger.
  nodes.describePlacementWith((n) => {
    const ledger = placement.ledger(n);
    return { ...admin.get(n.runtimeId), capacity_mib: ledger.capacityMib, committed_mib: ledger.committedMib, placed_models: ledger.models };
  });
  admin.on("change", (runtimeId, state) => nodes.adminChanged(runtimeId, state));
  feedModelStatus(events, store.models, nodes, placement);
  try {
    const auth = new Authenticator(credentials, store.keys, nodes);
    // The data plane checks the same client credential as the app's /v1 middleware.
    const authorize = (req: { headers: IncomingHttpHeaders }) => {
      const result = check(auth, CLIENT_OR_ADMIN, req);
      return result instanceof ApiError ? result : undefined;
    };
    dataPlane = createDataPlane({
      models: store.models,
      nodes,
      placement,
      config,
      logger,
      authorize,
      agentConnector: tls.agentConnector,
      certificateExpiries: () => tls.expiries(),
      stats,
    });
    const plane0 = dataPlane;
    inFlight = (node, model) => plane0.inFlight(node, model);
    // Requests waiting for a ready node re-check as soon as the placement moves.
    placement.on("placement", () => plane0.wake());
    const app = createApp({
      config,
      logger,
      models: store.models,
      keys: store.keys,
      nodes,
      placement,
      admin,
      auth,
      metrics: dataPlane.metrics,
      nodeCertificates: tls.nodeCertificates,
      clusterCa: tls.ca,
      agentDispatcher: tls.agentConnector.dispatcher,
      events,
      stats,
      dashboardDir,
      isClosing: () => closing,
    });
    // Inference requests skip Express (its per-request cost exceeds the whole proxy hop): the data
    // plane is their one entrance, and answers 503 shutting_down itself once shutdown began.
    // Everything else goes to the app.
    const plane = dataPlane;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (!plane.handle(req, res)) app(req, res);
    };
    if (tls.listener) {
      const https = createHttpsServer(tls.listener.serverOptions(), handler);
      tls.listener.attach(https);
      server = https;
    } else {
      server = createServer(handler);
    }
    server.listen(config.OMNIGATE_PORT, config.OMNIGATE_HOST);
    await once(server, "listening");
  } catch (err) {
    await dataPlane?.close().catch(() => {});
    await tls.close().catch(() => {});
    store.close();
    throw err;
  }
  sweeper.start();
  placement.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.OMNIGATE_HOST.includes(":") ? `[${config.OMNIGATE_HOST}]` : config.OMNIGATE_HOST;
  const url = `${tls.listener ? "https" : "http"}://${host}:${port}`;
  const log = logger.child({ component: "server" });
  log.info({ url, data_dir: config.OMNIGATE_DATA_DIR, cluster_ca: tls.ca.fingerprint }, "gateway listening");
  if (!tls.listener && config.OMNIGATE_TLS === "off" && !isLoopbackHost(config.OMNIGATE_HOST)) {
    log.warn({ host: config.OMNIGATE_HOST }, "OMNIGATE_TLS=off on a non-loopback address: API keys and prompts reach this gateway in clear unless a proxy in front terminates TLS");
  }

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      sweeper.stop();
      placement.stop();
      estimator.close();
      // 1. Stop accepting: the listener closes, idle keep-alive sockets go, new requests on busy
      //    ones get 503 shutting_down.
      let drained: Promise<void> = Promise.resolve();
      try {
        drained = stopAccepting(server, config.OMNIGATE_SHUTDOWN_TIMEOUT_MS);
      } catch (err) {
        log.error({ err }, "closing the listener failed");
      }
      // Event streams never end by themselves: end them, or they hold the drain to its timeout.
      events.close();
      // 2. The data plane answers its queued requests 503 and lets running ones finish (bounded).
      //    Before the HTTP drain, or queued requests would hold it until their queue timeout.
      try {
        await dataPlane.close();
      } catch (err) {
        log.error({ err }, "closing the data plane failed");
      }
      // 3. Drain: in-flight responses end, or are cut at the shutdown timeout.
      try {
        await drained;
      } catch (err) {
        log.error({ err }, "draining connections failed");
      }
      // 4. Certificate renewals and the agents' one-off connections.
      try {
        await tls.close();
      } catch (err) {
        log.error({ err }, "closing TLS failed");
      }
      // 5. Last, the database: nothing writes to it any more.
      try {
        store.close();
      } catch (err) {
        log.error({ err }, "closing the store failed");
      }
      log.info("gateway stopped");
    })();
    return closed;
  };
  return { url, port, credentials, nodes, store, placement, tls, reloadTls: () => tls.listener?.reload() ?? false, events, dashboardDir, close };
}
