import type { Logger } from "../logger.js";
import type { NodeCertificateStore } from "../store/cert-store.js";
import { AgentConnector } from "./agent-connector.js";
import { CertificateIssuer } from "./certificate-issuer.js";
import { loadClusterCa, type ClusterCa } from "./cluster-ca.js";
import { DenyList } from "./deny-list.js";
import { ListenerTls, listenerNames, listenerUsesTls } from "./listener-tls.js";
import { NodeCertificates } from "./node-certificates.js";
import { RenewingCertificate } from "./renewing-certificate.js";
import type { TlsConfig } from "./tls-env.js";

export type ClusterTlsConfig = TlsConfig & {
  readonly OMNIGATE_HOST: string;
  readonly OMNIGATE_DATA_DIR: string;
  readonly OMNIGATE_PROXY_CONNECT_TIMEOUT_MS: number;
};

/** Everything TLS in one gateway: the CA, what it signs for nodes, how agents are called, the listener's certificates. */
export interface ClusterTls {
  readonly ca: ClusterCa;
  readonly nodeCertificates: NodeCertificates;
  /** How connections to https agents are opened (client certificate, CA, SAN and deny-list checks). */
  readonly agentConnector: AgentConnector;
  /** The listener's TLS; null when it serves plain HTTP (loopback, or OMNIGATE_TLS=off). */
  readonly listener: ListenerTls | null;
  /** For /metrics: each certificate this gateway holds and when it expires (Unix ms). */
  expiries(): [certificate: string, notAfter: number][];
  close(): Promise<void>;
}

/** Loads (or makes) the cluster CA and issues this gateway's own certificates. Throws TlsFileError for an unusable file. */
export async function startClusterTls(config: ClusterTlsConfig, store: NodeCertificateStore, logger: Logger): Promise<ClusterTls> {
  const log = logger.child({ component: "tls" });
  const ca = await loadClusterCa(config.OMNIGATE_DATA_DIR, config, logger);
  const issuer = new CertificateIssuer(ca, config.OMNIGATE_NODE_CERT_TTL_S * 1000);
  const deny = new DenyList(store);
  // Each gateway has its own client certificate, made at start and never written anywhere.
  const client = await RenewingCertificate.start("client", () => issuer.issueForGateway("client"), log);
  const agentConnector = new AgentConnector(client, ca.certPem, deny, config.OMNIGATE_PROXY_CONNECT_TIMEOUT_MS);
  let server: RenewingCertificate | null = null;
  let listener: ListenerTls | null = null;
  try {
    if (listenerUsesTls(config)) {
      server = await RenewingCertificate.start("listener", () => issuer.issueForGateway("server", listenerNames(config)), log);
      listener = new ListenerTls(server, config, log);
    }
  } catch (err) {
    client.stop();
    server?.stop();
    await agentConnector.close();
    throw err;
  }
  const nodeCertificates = new NodeCertificates({ issuer, store, deny, caPem: ca.certPem, logger });
  return {
    ca,
    nodeCertificates,
    agentConnector,
    listener,
    expiries() {
      const out: [string, number][] = [
        ["cluster_ca", ca.notAfter],
        ["gateway_client", client.current.notAfter],
      ];
      if (server) out.push(["gateway_cluster_server", server.current.notAfter]);
      const front = listener?.frontDoorNotAfter;
      if (front != null) out.push(["front_door", front]);
      return out;
    },
    async close() {
      client.stop();
      server?.stop();
      listener?.close();
      await agentConnector.close();
    },
  };
}
