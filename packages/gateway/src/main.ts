#!/usr/bin/env node
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startGateway } from "./server.js";

// The only place that reads the environment, listens and handles signals.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = createLogger(config.LOG_LEVEL);
  let gateway;
  try {
    gateway = await startGateway(config, logger);
  } catch (err) {
    logger.fatal({ err }, "gateway failed to start");
    process.exitCode = 1;
    return;
  }
  // A plain line for people and for harnesses that start it with OMNIGATE_PORT=0.
  console.log(`omnigate gateway listening on ${gateway.url}`);

  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, "shutting down");
    gateway.close().then(
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

void main();
