import type { Command } from "commander";
import type { ApiKeyView, CreatedApiKey } from "@omnigate/shared/admin";
import type { NodeDeleteResponse, NodeView } from "@omnigate/shared/node-protocol";
import { formatAge, formatDate, shortId, table } from "./format.js";
import { type CommandContext, positiveNumber } from "./context.js";
import { CliError } from "./admin-client.js";

export function registerNodeCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const nodes = program.command("nodes").description("inspect, cordon and drain node agents");
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
          ["NODE", "HOST", "STATUS", "RUNTIMES", "MEMORY", "MODELS", "LAST SEEN", "CERT EXPIRES"],
          list.map((n) => [
            shortId(n.runtime_id),
            n.hostname,
            [n.online ? (n.ejected_until ? "ejected" : "online") : "offline", n.draining ? "draining" : n.cordoned ? "cordoned" : ""].filter(Boolean).join(","),
            n.supported_runtimes.join(",") || "-",
            n.capacity_mib === null ? `${n.committed_mib} MiB` : `${n.committed_mib}/${n.capacity_mib} MiB`,
            n.models.map((m) => `${m.name}:${m.state}`).join(", ") || "-",
            formatAge(n.last_seen),
            n.certificate ? formatDate(Math.floor(n.certificate.not_after / 1000)) : "-",
          ]),
        ),
      );
    });

  nodes
    .command("rm")
    .description("remove a node: revoke its certificates, cut its connections; it may not register again")
    .argument("<id>", "runtime id (or its first characters, as 'nodes ls' shows them), or hostname")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const runtimeId = await resolveNodeId(ctx, id);
      const removed = await ctx.client.call<NodeDeleteResponse>("DELETE", `/api/nodes/${encodeURIComponent(runtimeId)}`);
      if (ctx.json) return ctx.printJson(removed);
      const certs = removed.revoked_serials.length;
      ctx.print(`removed ${removed.runtime_id}; ${certs === 0 ? "it held no certificate" : `revoked ${certs} certificate${certs === 1 ? "" : "s"}`}`);
      ctx.print("To join that box again, delete the runtime-id file in its agent's OMNIGATE_STATE_DIR: it registers as a new node.");
    });

  registerNodeActions(nodes, context);
}

interface NodeActionOptions {
  wait?: boolean;
  timeout: number;
}

/** cordon / uncordon / drain, by runtime id or its first characters as `nodes ls` shows them. */
function registerNodeActions(nodes: Command, context: (cmd: Command) => CommandContext): void {
  const actions = {
    cordon: "no new placements on the node; what it serves stays",
    uncordon: "put the node back in service",
    drain: "cordon, then move every replica elsewhere: each replacement is ready before the node's copy goes",
  } as const;
  for (const [action, description] of Object.entries(actions) as Array<[keyof typeof actions, string]>) {
    const command = nodes
      .command(action)
      .description(description)
      .argument("<id>", "runtime id (or its first characters, as 'nodes ls' shows them), or hostname");
    // Only a drain takes time: its replacements download and start before the node's copies go.
    if (action === "drain") {
      command
        .option("--wait", "wait until no model is placed on the node any more")
        .option("--timeout <seconds>", "with --wait: give up after this long", positiveNumber, 3600);
    }
    command.action(async (id: string, opts: NodeActionOptions, cmd: Command) => {
      const ctx = context(cmd);
      const runtimeId = await resolveNodeId(ctx, id);
      let node = await ctx.client.call<NodeView>("POST", `/api/nodes/${encodeURIComponent(runtimeId)}/${action}`);
      if (action === "drain" && opts.wait) {
        const deadline = Date.now() + opts.timeout * 1000;
        let shown = "";
        while (node.placed_models.length > 0) {
          if (Date.now() > deadline) throw new CliError(`${node.hostname} still serves ${node.placed_models.join(", ")} after ${opts.timeout} s; GET /v1/models shows why`);
          const line = `draining ${node.hostname}: ${node.placed_models.join(", ")}`;
          if (!ctx.json && line !== shown) ctx.print(line);
          shown = line;
          await new Promise((r) => setTimeout(r, 1000));
          node = (await ctx.client.call<NodeView[]>("GET", "/api/nodes")).find((n) => n.runtime_id === runtimeId) ?? node;
        }
      }
      if (ctx.json) return ctx.printJson(node);
      const state = node.draining ? (node.placed_models.length ? `draining (${node.placed_models.join(", ")})` : "drained") : node.cordoned ? "cordoned" : "in service";
      ctx.print(`${shortId(node.runtime_id)} ${node.hostname}: ${state}`);
    });
  }
}

async function resolveNodeId(ctx: CommandContext, id: string): Promise<string> {
  const list = await ctx.client.call<NodeView[]>("GET", "/api/nodes");
  const hits = list.filter((n) => n.runtime_id === id || n.runtime_id.startsWith(id) || n.hostname === id);
  if (hits.length === 1) return hits[0]!.runtime_id;
  if (hits.length > 1) throw new CliError(`'${id}' matches several nodes (${hits.map((n) => shortId(n.runtime_id)).join(", ")}); give more of the id`);
  // Unknown: the gateway's 404 says so.
  return id;
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
