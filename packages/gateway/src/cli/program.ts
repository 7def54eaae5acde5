import { Command } from "commander";
import { commandContext } from "./context.js";
import { registerModelCommands } from "./model-commands.js";
import { registerKeyCommands, registerNodeCommands } from "./admin-commands.js";
import { registerClusterCommands } from "./cluster-commands.js";

/** `omnigate …`: the admin CLI over the gateway's HTTP API. */
export function buildProgram(): Command {
  const program = new Command("omnigate")
    .description(
      "Admin CLI for an omnigate gateway. Reads OMNIGATE_URL (default http://127.0.0.1:8080) and OMNIGATE_ADMIN_KEY (else <OMNIGATE_DATA_DIR>/admin.key).",
    )
    .option("--url <url>", "gateway address (overrides OMNIGATE_URL)")
    .option("--json", "print JSON for machines instead of tables")
    .showHelpAfterError()
    .exitOverride();
  const context = (cmd: Command) => commandContext(cmd);
  registerModelCommands(program, context);
  registerNodeCommands(program, context);
  registerKeyCommands(program, context);
  // The CA is public: `cluster ca` works without the admin key (on a box that has only the URL).
  registerClusterCommands(program, (cmd: Command) => commandContext(cmd, process.env, { keyOptional: true }));
  return program;
}
