import type { Logger } from "./logger.js";
import { closeOnSignals } from "./shutdown.js";

export interface ServiceOptions<C extends { readonly LOG_LEVEL: string }, S extends { readonly url: string; close(): Promise<void> }> {
  /** "gateway", "agent": in the lines people and harnesses read. */
  readonly name: string;
  /** Reads the environment; throws naming every bad variable. */
  readonly loadConfig: () => C;
  readonly createLogger: (level: string) => Logger;
  /** Everything but the environment and the signals: listens, returns where and how to stop. */
  readonly start: (config: C, logger: Logger) => Promise<S>;
  /** After the listening line: more lines to print, signals of the service's own (SIGHUP). */
  readonly started?: (service: S, logger: Logger) => void;
}

/**
 * A service's main: the only place that reads the environment, listens and handles signals. A bad
 * config exits 2 naming every bad variable, a failed start exits 1 with the reason; once listening
 * it prints `omnigate <name> listening on <url>` (the line harnesses wait for with port 0) and
 * closes on SIGTERM or SIGINT.
 */
export async function runService<C extends { readonly LOG_LEVEL: string }, S extends { readonly url: string; close(): Promise<void> }>(
  options: ServiceOptions<C, S>,
): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = options.createLogger(config.LOG_LEVEL);
  let service: S;
  try {
    service = await options.start(config, logger);
  } catch (err) {
    logger.fatal({ err }, `${options.name} failed to start`);
    console.error(`omnigate ${options.name} failed to start: ${(err as Error).message}`);
    process.exitCode = 1;
    return;
  }
  console.log(`omnigate ${options.name} listening on ${service.url}`);
  options.started?.(service, logger);
  closeOnSignals(logger, () => service.close());
}
