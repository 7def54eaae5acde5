#!/usr/bin/env node
import { Command } from "commander";
import { startAgent } from "./agent.js";
import { registerCacheCommands } from "./cli/cache-commands.js";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

// The only place that reads the environment, listens and handles signals.
async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = createLogger(config.LOG_LEVEL);
  let agent;
  try {
    agent = await startAgent(config, logger);
  } catch (err) {
    logger.fatal({ err }, "agent failed to start");
    console.error(`omnigate agent failed to start: ${(err as Error).message}`);
    process.exitCode = 1;
    return;
  }
  // A plain line for people and for harnesses that start it with OMNIGATE_AGENT_PORT=0.
  console.log(`omnigate agent listening on ${agent.url}`);

  // once: a second Ctrl-C falls through to the default and kills the process at once.
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, "shutting down");
    agent.close().then(
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

const program = new Command("omnigate-agent")
  .description("omnigate node agent: pulls models from the Hugging Face Hub, runs engines, reports to the gateway.")
  .showHelpAfterError();

program
  .command("serve", { isDefault: true })
  .description("run the agent (configured by environment variables; see the README)")
  .action(serve);

// Cache maintenance on a box: pull, verify, rm (issue 3).
registerCacheCommands(program);

await program.parseAsync(process.argv);
