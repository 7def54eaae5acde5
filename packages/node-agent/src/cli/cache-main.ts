#!/usr/bin/env node
import { Command } from "commander";
import { registerCacheCommands } from "./cache-commands.js";

/**
 * The cache commands on their own (`node dist/cli/cache-main.js pull org/name`): the cross-process
 * cache tests and the pull benchmark run this, independent of the agent's main.ts.
 */
const program = new Command("omnigate-agent-cache").description("omnigate node agent: model cache commands");
registerCacheCommands(program);
await program.parseAsync(process.argv);
