import { Gauge, type Registry } from "prom-client";
import type { NodeRegistry } from "../nodes/node-registry.js";

export interface TlsMetricsSources {
  readonly nodes: NodeRegistry;
  /** The gateway's own certificates (cluster CA, its client and listener certificates, the front door's): name → Unix ms. */
  certificateExpiries(): Iterable<[string, number]>;
}

/**
 * Certificate expiry gauges, as Unix seconds (alert on `… - time() < 86400`): each node's, the
 * soonest of them (a node that stopped renewing shows there first), and the gateway's own.
 */
export function registerTlsMetrics(registry: Registry, sources: TlsMetricsSources): void {
  const registers = [registry];
  const nodeExpiries = (): [string, number][] => sources.nodes.list().flatMap((n) => (n.certificate ? [[n.runtimeId, n.certificate.not_after] as [string, number]] : []));
  new Gauge({
    name: "omnigate_node_certificate_expiry_timestamp_seconds",
    help: "When each node's TLS certificate expires (Unix seconds); agents renew at half its life.",
    labelNames: ["node"],
    registers,
    collect() {
      this.reset();
      for (const [node, notAfter] of nodeExpiries()) this.set({ node }, notAfter / 1000);
    },
  });
  new Gauge({
    name: "omnigate_node_certificate_soonest_expiry_timestamp_seconds",
    help: "The soonest expiry among the nodes' TLS certificates (Unix seconds); absent while no node has one.",
    registers,
    collect() {
      this.reset();
      const all = nodeExpiries().map(([, t]) => t);
      if (all.length > 0) this.set(Math.min(...all) / 1000);
    },
  });
  new Gauge({
    name: "omnigate_tls_certificate_expiry_timestamp_seconds",
    help: "When each of the gateway's own certificates expires (Unix seconds): cluster_ca, gateway_client, gateway_cluster_server, front_door.",
    labelNames: ["certificate"],
    registers,
    collect() {
      this.reset();
      for (const [certificate, notAfter] of sources.certificateExpiries()) this.set({ certificate }, notAfter / 1000);
    },
  });
}
