import { z } from "zod";
import { CaFingerprint } from "@omnigate/shared/tls";

/** Variables of the agent's TLS (issue 14). */
export const agentTlsEnv = {
  // auto: HTTPS with mutual TLS unless OMNIGATE_AGENT_HOST is loopback; on: also on loopback.
  OMNIGATE_AGENT_TLS: z.enum(["auto", "on"]).default("auto"),
  // The cluster CA's fingerprint (`omnigate cluster ca`): trust the gateway by it instead of the system's CA store.
  OMNIGATE_CA_FINGERPRINT: z.string().pipe(CaFingerprint).optional(),
};
