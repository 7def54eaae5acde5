#!/usr/bin/env node
import { Command } from "commander";
import { runService } from "@omnigate/server-kit/service";
import { startAgent } from "./agent.js";
import { registerCacheCommands } from "./cli/cache-commands.js";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

const program = new Command("omnigate-agent")
  .description("omnigate node agent: pulls models from the Hugging Face Hub, runs engines, reports to the gateway.")
  .showHelpAfterError();

program
  .command("serve", { isDefault: true })
  .description("run the agent (configured by environment variables; see the README)")
  .action(() => runService({ name: "agent", loadConfig: () => loadConfig(), createLogger, start: (config, logger) => startAgent(config, logger) }));

// Cache maintenance on a box: pull, verify, rm (issue 3).
registerCacheCommands(program);

await program.parseAsync(process.argv);
