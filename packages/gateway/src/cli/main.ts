#!/usr/bin/env node
import { CommanderError } from "commander";
import { CliError } from "./admin-client.js";
import { buildProgram } from "./program.js";

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof CliError) {
      console.error(`error: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    console.error(err);
    process.exitCode = 1;
  }
}

void main();
