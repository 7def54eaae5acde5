import { pino, type Logger } from "pino";

export type { Logger };

/**
 * The process logger. Credentials never reach a log line: headers and every field named like a
 * secret are redacted. JSON lines; pipe through `pino-pretty` to read them by eye.
 */
export function createLogger(level: string = "info", name = "omnigate-gateway"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "headers.authorization",
        "req.headers.authorization",
        "*.headers.authorization",
        "token",
        "*.token",
        "secret",
        "*.secret",
        "node_secret",
        "*.node_secret",
        "key",
        "*.key",
        "api_key",
        "*.api_key",
      ],
      censor: "[redacted]",
    },
  });
}
