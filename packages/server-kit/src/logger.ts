import { pino, type Logger } from "pino";
import { REDACTED_LOG_PATHS } from "@omnigate/shared/logging";

export type { Logger };

/**
 * A process logger: JSON lines (pipe through `pino-pretty` to read them by eye), with credentials
 * and secret-named fields redacted. `name` says which app wrote the line.
 */
export function createLogger(name: string, level = "info"): Logger {
  return pino({ name, level, redact: { paths: [...REDACTED_LOG_PATHS], censor: "[redacted]" } });
}
