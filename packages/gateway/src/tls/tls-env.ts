import { z } from "zod";

/** Variables of TLS at the front door and the cluster CA (issue 14). */
export const tlsEnv = {
  // auto: HTTPS unless OMNIGATE_HOST is loopback; on: always HTTPS; off: plain HTTP (only behind a proxy that terminates TLS).
  OMNIGATE_TLS: z.enum(["auto", "on", "off"]).default("auto"),
  // The front door's certificate (PEM: leaf, then intermediates); re-read when it changes or on SIGHUP. Unset = one from the cluster CA.
  OMNIGATE_TLS_CERT_FILE: z.string().min(1).optional(),
  // The front door certificate's private key (PEM, unencrypted).
  OMNIGATE_TLS_KEY_FILE: z.string().min(1).optional(),
  // Extra DNS names or IPs, comma-separated, for the certificate the gateway issues itself when it has no OMNIGATE_TLS_CERT_FILE.
  OMNIGATE_TLS_SAN: z.string().default(""),
  // The cluster CA's certificate, to share one CA between gateways; unset = the one made in the data dir on first start.
  OMNIGATE_CLUSTER_CA_CERT_FILE: z.string().min(1).optional(),
  // The cluster CA's private key (PEM): it signs the agents' and the gateways' certificates.
  OMNIGATE_CLUSTER_CA_KEY_FILE: z.string().min(1).optional(),
  // Lifetime of agent and gateway certificates, each renewed at half: a stolen key is good for this long at most.
  OMNIGATE_NODE_CERT_TTL_S: z.coerce.number().int().min(10).default(7 * 24 * 60 * 60),
};

export type TlsConfig = z.output<ReturnType<typeof z.object<typeof tlsEnv>>>;

/** The variables that only make sense together, checked as one. */
export function checkTlsEnv(env: TlsConfig, ctx: z.RefinementCtx): void {
  const pairs = [
    ["OMNIGATE_TLS_CERT_FILE", "OMNIGATE_TLS_KEY_FILE"],
    ["OMNIGATE_CLUSTER_CA_CERT_FILE", "OMNIGATE_CLUSTER_CA_KEY_FILE"],
  ] as const;
  for (const [cert, key] of pairs) {
    if ((env[cert] === undefined) !== (env[key] === undefined)) {
      const [set, unset] = env[cert] === undefined ? [key, cert] : [cert, key];
      ctx.addIssue({ code: "custom", path: [unset], message: `set it too: ${set} is set, and the two go together` });
    }
  }
  if (env.OMNIGATE_TLS === "off" && env.OMNIGATE_TLS_CERT_FILE !== undefined) {
    ctx.addIssue({ code: "custom", path: ["OMNIGATE_TLS"], message: "is off, but OMNIGATE_TLS_CERT_FILE is set: unset one of them" });
  }
}
