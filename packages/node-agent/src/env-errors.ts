import type { z } from "zod";

/** "Invalid configuration: OMNIGATE_AGENT_PORT: expected number…; HF_ENDPOINT: …" — every bad variable named. */
export function formatEnvErrors(error: z.ZodError): string {
  const lines = error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  return `Invalid configuration:\n${lines.join("\n")}`;
}
