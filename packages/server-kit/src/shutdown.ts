import type { Server } from "node:http";
import type { Logger } from "./logger.js";

/**
 * Stops accepting and resolves once every connection ended, cutting the rest after `timeoutMs`.
 * Keep-alive sockets (the gateway's pooled connections to an agent, a client's to the gateway)
 * would hold `close()` open until they time out: the idle ones close now, and each one the moment
 * its last response ends.
 */
export function stopAccepting(server: Server, timeoutMs: number): Promise<void> {
  const done = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  sweep.unref();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    timer.unref();
  });
  return Promise.race([done, timeout]).finally(() => {
    clearTimeout(timer);
    clearInterval(sweep);
  });
}

/**
 * SIGTERM or SIGINT runs `close` once, then exits 0 (1 when it failed). `once`: a second Ctrl-C
 * falls through to Node's default and ends the process at once.
 */
export function closeOnSignals(logger: Logger, close: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, "shutting down");
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}
