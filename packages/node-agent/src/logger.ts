import { createLogger as createServiceLogger, type Logger } from "@omnigate/server-kit/logger";

export type { Logger };

/** The agent's process logger (JSON lines, secrets redacted). */
export function createLogger(level = "info"): Logger {
  return createServiceLogger("omnigate-agent", level);
}
