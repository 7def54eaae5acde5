import type { Command } from "commander";
import { isLoopbackHost, type ClusterCaInfo } from "@omnigate/shared/tls";
import { formatDate } from "./format.js";
import type { CommandContext } from "./context.js";

/** `omnigate cluster …`: what a new node needs to join. */
export function registerClusterCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const cluster = program.command("cluster").description("the cluster's trust: its CA and how a node joins");
  cluster
    .command("ca")
    .description("print the cluster CA's fingerprint (what agents pin), its certificate, and the command that joins a GPU box")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const ca = await ctx.client.call<ClusterCaInfo>("GET", "/api/cluster/ca");
      if (ctx.json) return ctx.printJson(ca);
      ctx.print(`fingerprint  ${ca.fingerprint}`);
      ctx.print(`expires      ${formatDate(Math.floor(ca.not_after / 1000))}`);
      ctx.print("");
      ctx.print("Join a GPU box (from a checkout of omnigate; its agent serves mutual TLS on every address):");
      ctx.print(`  npx -y pnpm@10 install && OMNIGATE_GATEWAY_URL=${joinUrl(ctx.client.url)} OMNIGATE_CA_FINGERPRINT=${ca.fingerprint} \\`);
      ctx.print("    OMNIGATE_NODE_TOKEN=<the node token> OMNIGATE_AGENT_HOST=0.0.0.0 npx -y pnpm@10 join");
      if (!ctx.client.url.startsWith("https:")) {
        ctx.print(`  (${ctx.client.url} serves plain HTTP: for agents on other boxes the gateway serves HTTPS — OMNIGATE_HOST beyond loopback, or OMNIGATE_TLS=on)`);
      }
      ctx.print("");
      ctx.print(ca.certificate.trimEnd());
    });
}

/** The gateway's address as another box would use it: https, and a placeholder for a loopback host. */
function joinUrl(url: string): string {
  const u = new URL(url);
  const host = isLoopbackHost(u.hostname) ? "<gateway host>" : u.host;
  return `https://${host}${isLoopbackHost(u.hostname) && u.port ? `:${u.port}` : ""}`;
}
