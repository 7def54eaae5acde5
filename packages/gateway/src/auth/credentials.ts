import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "../logger.js";

export const ADMIN_KEY_FILE = "admin.key";
export const NODE_TOKEN_FILE = "node.token";
export const CLUSTER_SECRET_FILE = "cluster.secret";

/** A cluster credential (the admin key or the node token) and where it came from. */
export interface Credential {
  readonly value: string;
  readonly source: "env" | "file" | "generated";
  /** The file it lives in, unless it came from the environment. */
  readonly file: string | null;
}

export interface ClusterCredentials {
  readonly adminKey: Credential;
  readonly nodeToken: Credential;
  /** Node secrets are derived from it; only gateways hold it. */
  readonly clusterSecret: Credential;
}

interface CredentialSpec {
  readonly envName: string;
  readonly envValue: string | undefined;
  readonly fileName: string;
  /** Distinct prefixes make a pasted credential recognisable, e.g. in the wrong env var. */
  readonly prefix: string;
}

/**
 * The admin key, node token and cluster secret: from the environment when set, else from the data
 * dir, else generated there on first start (mode 0600) and reused after. Only the file path is logged.
 */
export function loadClusterCredentials(
  dataDir: string,
  env: { OMNIGATE_ADMIN_KEY?: string | undefined; OMNIGATE_NODE_TOKEN?: string | undefined; OMNIGATE_CLUSTER_SECRET?: string | undefined },
  logger: Logger,
): ClusterCredentials {
  const log = logger.child({ component: "auth" });
  return {
    adminKey: loadCredential(
      dataDir,
      { envName: "OMNIGATE_ADMIN_KEY", envValue: env.OMNIGATE_ADMIN_KEY, fileName: ADMIN_KEY_FILE, prefix: "og-admin-" },
      log,
    ),
    nodeToken: loadCredential(
      dataDir,
      { envName: "OMNIGATE_NODE_TOKEN", envValue: env.OMNIGATE_NODE_TOKEN, fileName: NODE_TOKEN_FILE, prefix: "og-node-" },
      log,
    ),
    clusterSecret: loadCredential(
      dataDir,
      { envName: "OMNIGATE_CLUSTER_SECRET", envValue: env.OMNIGATE_CLUSTER_SECRET, fileName: CLUSTER_SECRET_FILE, prefix: "og-cluster-" },
      log,
    ),
  };
}

function loadCredential(dataDir: string, spec: CredentialSpec, log: Logger): Credential {
  if (spec.envValue !== undefined && spec.envValue !== "") {
    log.info({ variable: spec.envName }, "credential taken from the environment");
    return { value: spec.envValue, source: "env", file: null };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, spec.fileName);
  const existing = readExisting(file, log);
  if (existing !== null) {
    log.info({ variable: spec.envName, file }, "credential read from the data dir");
    return { value: existing, source: "file", file };
  }
  const value = `${spec.prefix}${randomBytes(32).toString("base64url")}`;
  try {
    // `wx`: if another gateway process created it a moment ago, use that one instead.
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const raced = readExisting(file, log);
    if (raced === null) throw new Error(`${file} exists but is empty; delete it or set ${spec.envName}.`, { cause: err });
    return { value: raced, source: "file", file };
  }
  log.info({ variable: spec.envName, file }, `generated a new credential; read it from the file (or set ${spec.envName})`);
  return { value, source: "generated", file };
}

function readExisting(file: string, log: Logger): string | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  // Someone loosened the file's mode (or copied it in): a secret must not stay world-readable.
  const mode = statSync(file).mode & 0o777;
  if (mode !== 0o600) {
    chmodSync(file, 0o600);
    log.warn({ file, mode: mode.toString(8) }, "credential file was readable by others; set its mode to 0600");
  }
  const value = text.trim();
  if (value.length === 0) return null;
  if (value.length < 16) throw new Error(`The credential in ${file} is shorter than 16 characters; replace it or delete the file to generate a new one.`);
  return value;
}
