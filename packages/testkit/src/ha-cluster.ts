/**
 * Several gateways of one cluster on one PostgreSQL database, as real processes: what every gateway
 * of a cluster must share (admin key, node token, cluster secret, cluster CA) made once, and each
 * gateway started with it (`startGateway`'s processes: restartGateway restarts one with the same).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCa } from "./certs.js";
import { randomCredential, startGateway, type GatewayOptions, type GatewayProcess } from "./cluster.js";
import type { TestScope } from "./scope.js";

export interface ClusterSecrets {
  readonly adminKey: string;
  readonly nodeToken: string;
  readonly clusterSecret: string;
  readonly caCertFile: string;
  readonly caKeyFile: string;
}

/** Fresh shared credentials, with a cluster CA written to a temp dir of `scope`. */
export async function clusterSecrets(scope: TestScope): Promise<ClusterSecrets> {
  const dir = await scope.tempDir("og-ha-ca-");
  const ca = await makeCa("omnigate HA test CA");
  const caCertFile = join(dir, "cluster-ca.crt");
  const caKeyFile = join(dir, "cluster-ca.key");
  await writeFile(caCertFile, ca.certPem);
  await writeFile(caKeyFile, ca.keyPem, { mode: 0o600 });
  return {
    adminKey: randomCredential("og-admin-test-"),
    nodeToken: randomCredential("og-node-test-"),
    clusterSecret: randomCredential("og-cluster-test-secret-"),
    caCertFile,
    caKeyFile,
  };
}

/** One gateway of the cluster on `databaseUrl` (its own data dir), listening on 127.0.0.1. */
export function startClusterGateway(scope: TestScope, secrets: ClusterSecrets, databaseUrl: string, options: GatewayOptions = {}): Promise<GatewayProcess> {
  return startGateway(scope, {
    ...options,
    adminKey: secrets.adminKey,
    nodeToken: secrets.nodeToken,
    env: {
      OMNIGATE_DATABASE_URL: databaseUrl,
      OMNIGATE_CLUSTER_SECRET: secrets.clusterSecret,
      OMNIGATE_CLUSTER_CA_CERT_FILE: secrets.caCertFile,
      OMNIGATE_CLUSTER_CA_KEY_FILE: secrets.caKeyFile,
      ...options.env,
    },
  });
}
