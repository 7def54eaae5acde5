import type { Command } from "commander";
import type { ApiKeyView, CreatedApiKey } from "@omnigate/shared/admin";
import type { NodeView } from "@omnigate/shared/node-protocol";
import { formatAge, formatDate, shortId, table } from "./format.js";
import type { CommandContext } from "./context.js";

export function registerNodeCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const nodes = program.command("nodes").description("inspect node agents");
  nodes
    .command("ls")
    .description("list nodes: online or not, runtimes, model states, last heartbeat")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const list = await ctx.client.call<NodeView[]>("GET", "/api/nodes");
      if (ctx.json) return ctx.printJson(list);
      if (list.length === 0) return ctx.print("no nodes have registered; start a node agent with OMNIGATE_GATEWAY_URL pointing here");
      ctx.print(
        table(
          ["NODE", "HOST", "STATUS", "RUNTIMES", "MODELS", "LAST SEEN"],
          list.map((n) => [
            shortId(n.runtime_id),
            n.hostname,
            n.online ? (n.ejected_until ? "ejected" : "online") : "offline",
            n.supported_runtimes.join(",") || "-",
            n.models.map((m) => `${m.name}:${m.state}`).join(", ") || "-",
            formatAge(n.last_seen),
          ]),
        ),
      );
    });
}

export function registerKeyCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const keys = program.command("keys").description("manage client API keys for /v1/*");
  keys
    .command("create")
    .description("create a client API key (shown this once)")
    .argument("<name>", "what the key is for")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const key = await ctx.client.call<CreatedApiKey>("POST", "/api/keys", { name });
      if (ctx.json) return ctx.printJson(key);
      ctx.print(`created ${key.id} (${key.name})`);
      ctx.print(key.key);
      ctx.print("Store it now: it is not shown again.");
    });

  keys
    .command("ls")
    .description("list client API keys (never the keys themselves)")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const list = await ctx.client.call<ApiKeyView[]>("GET", "/api/keys");
      if (ctx.json) return ctx.printJson(list);
      if (list.length === 0) return ctx.print("no keys; create one with 'omnigate keys create <name>'");
      ctx.print(
        table(
          ["ID", "NAME", "PREFIX", "CREATED", "REVOKED"],
          list.map((k) => [k.id, k.name, `${k.prefix}…`, formatDate(k.created_at), k.revoked_at === null ? "-" : formatDate(k.revoked_at)]),
        ),
      );
    });

  keys
    .command("revoke")
    .description("revoke a client API key")
    .argument("<id>", "key id from 'keys ls'")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const key = await ctx.client.call<ApiKeyView>("DELETE", `/api/keys/${encodeURIComponent(id)}`);
      if (ctx.json) return ctx.printJson(key);
      ctx.print(`revoked ${key.id} (${key.name})`);
    });
}
