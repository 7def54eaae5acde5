import { z } from "zod";
import { NodeModelStatus } from "@omnigate/shared/models";
import { EngineHealth, NodeCertificateView, NodeRegistration } from "@omnigate/shared/node-protocol";

/**
 * A node's row in the shared state: its registration as last reported, what it reports of its
 * models and engines, and its registration's epoch (the node secret is derived from it, never
 * stored). Written when what it reports changes, not on every heartbeat: liveness travels between
 * gateways as messages, and `last_seen` here is a checkpoint.
 */
export const NodeDoc = z.object({
  registration: NodeRegistration,
  epoch: z.string().min(1),
  registered_at: z.number(),
  last_seen: z.number(),
  /** When the gateway that wrote this row received the report it holds (a newer one wins). */
  reported_at: z.number(),
  models: z.array(NodeModelStatus),
  engines: z.array(EngineHealth),
  /** Its current TLS certificate (serial and validity; null: plain HTTP on loopback). */
  certificate: NodeCertificateView.nullable().default(null),
});
export type NodeDoc = z.infer<typeof NodeDoc>;
