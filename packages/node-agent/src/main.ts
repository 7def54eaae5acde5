#!/usr/bin/env node
import { Command } from "commander";
import { runService } from "@omnigate/server-kit/service";
import { startAgent, type RunningAgent } from "./agent.js";
import { registerCacheCommands } from "./cli/cache-commands.js";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

// Refusing to join (a pinned CA that differs) is final: say why, stop, exit non-zero.
function started(agent: RunningAgent): void {
  void agent.fatal.then((err) => {
    console.error(`omnigate agent refuses to join the gateway: ${err.message}`);
    void agent.close().finally(() => process.exit(1));
  });
}

const program = new Command("omnigate-agent")
  .description("omnigate node agent: pulls models from the Hugging Face Hub, runs engines, reports to the gateway.")
  .showHelpAfterError();

program
  .command("serve", { isDefault: true })
  .description("run the agent (configured by environment variables; see the README)")
  .action(() => runService({ name: "agent", loadConfig: () => loadConfig(), createLogger, start: (config, logger) => startAgent(config, logger), started }));

// Cache maintenance on a box: pull, verify, rm (issue 3).
registerCacheCommands(program);

await program.parseAsync(process.argv);
