import { pino, type Logger } from "pino";
import { REDACTED_LOG_PATHS } from "@omnigate/shared/logging";

export type { Logger };

/**
 * The process logger: JSON lines (pipe through `pino-pretty` to read them by eye), with
 * credentials and secret-named fields redacted.
 */
export function createLogger(level: string = "info", name = "omnigate-gateway"): Logger {
  return pino({ name, level, redact: { paths: [...REDACTED_LOG_PATHS], censor: "[redacted]" } });
}
