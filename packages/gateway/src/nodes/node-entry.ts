import type { NodeModelStatus } from "@omnigate/shared/models";
import type { EngineHealth, NodeCertificateView, NodeRegistrationParsed } from "@omnigate/shared/node-protocol";

/** One registered node agent, as every gateway knows it (the shared `nodes` table, plus liveness). */
export interface NodeEntry {
  readonly runtimeId: string;
  /** The node's name in liveness messages between gateways (a hash prefix of the runtime_id). */
  readonly shortId: string;
  registration: NodeRegistrationParsed;
  /** The registration's epoch: the secret is derived from it. */
  epoch: string;
  /** sha256 of the node secret: what heartbeats are checked against. */
  secretHash: Buffer;
  /** The secret itself, in memory only (never stored or logged), to call the agent. */
  secret: string;
  /** Per assigned model, what the node last reported. */
  models: Map<string, NodeModelStatus>;
  engines: EngineHealth[];
  registeredAt: number;
  /** Its last heartbeat to any gateway, as far as this one knows (Unix ms). */
  lastSeen: number;
  /** When this gateway last had a heartbeat from it (0: not since it started). */
  heardAt: number;
  /** When the report held (registration, models, engines) was received, by whichever gateway. */
  reportedAt: number;
  /** Outlier detection: no traffic until this Unix-ms time (null = not ejected). */
  ejectedUntil: number | null;
  /** How many times it was ejected: each ejection lasts longer. */
  ejections: number;
  /** Its current TLS certificate (null: it serves plain HTTP on loopback). */
  certificate: NodeCertificateView | null;
  /** Why it was last ejected, for views while the ejection lasts. */
  ejectionReason: string | null;
  /** Set once it was announced offline (missed heartbeats), cleared when it reports again. */
  offline: boolean;
  /** What the last `node.updated` (or registration) told about the node, to send only real changes. */
  announcedKey: string;
}
