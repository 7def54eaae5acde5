import { pino, type DestinationStream, type Logger } from "pino";
import { REDACTED_LOG_PATHS } from "@omnigate/shared/logging";

export type { Logger };

/**
 * A process logger: JSON lines (pipe through `pino-pretty` to read them by eye), with credentials
 * and secret-named fields redacted. `name` says which app wrote the line; stdout unless a CLI
 * keeps it for its output (`pino.destination(2)`: stderr).
 */
export function createLogger(name: string, level = "info", destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: [...REDACTED_LOG_PATHS], censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}
