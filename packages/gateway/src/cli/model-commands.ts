import type { Command } from "commander";
import type { DeleteModelResponse, ModelList, ModelListEntry, ModelRecord, RegisterModelRequest } from "@omnigate/shared/models";
import { CliError, modelPath } from "./admin-client.js";
import { describeNode, shortId, table } from "./format.js";
import { waitForModel } from "./wait-for-model.js";
import { type CommandContext, collect, positiveNumber, voiceEntry } from "./context.js";

interface AddOptions {
  name?: string;
  replicas?: string;
  selector: string[];
  memoryMib?: number;
  policy?: string;
  revision?: string;
  file: string[];
  runtime?: string;
  voice: Record<string, number>;
  wait?: boolean;
  timeout: number;
}

export function registerModelCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const models = program.command("models").description("register, list and delete models");

  models
    .command("add")
    .description("register a model from a Hugging Face repo; the nodes it is placed on pull it")
    .argument("<repo>", "Hugging Face repo id, org/name")
    .option("--name <name>", "public model name (default: the repo id)")
    .option("--revision <rev>", "branch, tag or commit (default: main)")
    .option("--file <pattern>", "file path or glob inside the repo; repeat for several", collect, [])
    .option("--runtime <runtime>", "llama_cpp | whisper | stable_diffusion | onnx_runtime (default: inferred from the files)")
    .option("--replicas <n>", 'how many nodes serve it, 0–1000, or "all" (default 1)')
    .option("--selector <label=value>", "only nodes with this label; repeat for several", collect, [])
    .option("--memory-mib <mib>", "memory per replica, overriding the estimate read from its files", positiveNumber)
    .option("--policy <policy>", "spread (default: least committed nodes) | binpack (fill the fullest node that fits)")
    .option("--voice <name=id>", "text-to-speech: a name for one of the voice's speakers, e.g. alloy=0; repeat for several", voiceEntry, {})
    .option("--wait", "follow the gateway's event stream until a node reports it ready, showing each node's state and progress")
    .option("--timeout <seconds>", "with --wait: give up after this long", positiveNumber, 3600)
    .action(async (repo: string, opts: AddOptions, cmd: Command) => {
      const ctx = context(cmd);
      const body: RegisterModelRequest = { repo, files: opts.file };
      if (opts.name) body.name = opts.name;
      if (opts.revision) body.revision = opts.revision;
      if (opts.runtime) body.runtime = opts.runtime as RegisterModelRequest["runtime"];
      if (opts.replicas !== undefined) body.replicas = replicasArg(opts.replicas);
      if (opts.selector.length > 0) body.node_selector = selectorArg(opts.selector);
      if (opts.memoryMib !== undefined) body.resources = { memory_mib: opts.memoryMib };
      if (opts.policy) body.placement_policy = opts.policy as RegisterModelRequest["placement_policy"];
      if (Object.keys(opts.voice).length > 0) body.options = { voices: opts.voice };
      const record = await ctx.client.call<ModelRecord>("POST", "/api/models", body);
      if (!ctx.json) {
        ctx.print(`registered ${record.name} (${record.repo}@${record.revision}, runtime ${record.runtime}, ${record.capabilities.join(", ")}, replicas ${record.replicas})`);
      }
      if (!opts.wait) {
        if (ctx.json) ctx.printJson(record);
        return;
      }
      // With --json, stdout carries only the final JSON; progress goes to stderr.
      const out = ctx.json ? process.stderr : process.stdout;
      const outcome = await waitForModel(ctx.client, record.name, { timeoutMs: opts.timeout * 1000, out });
      if (!outcome.ok) throw new CliError(outcome.message);
      if (ctx.json) ctx.printJson(outcome.entry);
      else ctx.print(outcome.message);
    });

  models
    .command("ls")
    .description("list models with their readiness on each node")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const list = await ctx.client.call<ModelList>("GET", "/v1/models");
      if (ctx.json) return ctx.printJson(list.data);
      if (list.data.length === 0) return ctx.print("no models registered; add one with 'omnigate models add <repo>'");
      ctx.print(
        table(
          ["NAME", "RUNTIME", "READY", "REPLICAS", "MEMORY", "NODES"],
          list.data.map((m) => [
            m.id,
            m.runtime,
            m.ready ? "yes" : "no",
            `${m.replicas.ready}/${m.replicas.placed}/${m.replicas.desired}`,
            m.memory_mib === null ? "pending" : `${m.memory_mib} MiB`,
            nodesCell(m),
          ]),
        ),
      );
    });

  models
    .command("scale")
    .description("set how many nodes serve a model (added replicas download first; removed ones finish their requests)")
    .argument("<name>", "model name")
    .argument("<replicas>", 'a count 0–1000, or "all"')
    .action(async (name: string, replicas: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const record = await ctx.client.call<ModelRecord>("PATCH", modelPath(name, "/api/models"), { replicas: replicasArg(replicas) });
      if (ctx.json) return ctx.printJson(record);
      ctx.print(`${record.name}: ${record.replicas} replica${record.replicas === 1 ? "" : "s"}`);
    });

  models
    .command("rm")
    .description("delete a model from the registry and from every node")
    .argument("<name>", "model name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const res = await ctx.client.call<DeleteModelResponse>("DELETE", modelPath(name));
      if (ctx.json) return ctx.printJson(res);
      ctx.print(`deleted ${res.id}`);
      for (const node of res.nodes) {
        ctx.print(
          node.outcome === "deleted"
            ? `  ${shortId(node.runtime_id)}  deleted`
            : `  ${shortId(node.runtime_id)}  deferred: ${node.error ?? "not reached"} (it deletes at its next heartbeat)`,
        );
      }
    });
}

function nodesCell(m: ModelListEntry): string {
  if (m.nodes.length === 0) return m.placement_errors[0] ?? "placed nowhere";
  return m.nodes.map((n) => `${shortId(n.runtime_id)} ${describeNode(n)}${n.leaving ? " (leaving)" : ""}`).join("; ");
}

/** `3` or `all`; the gateway names the rule when it is neither. */
function replicasArg(value: string): number | "all" {
  return value === "all" ? "all" : Number(value);
}

/** `--selector zone=eu --selector gpu=a100` → { zone: "eu", gpu: "a100" }. */
function selectorArg(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`--selector ${pair}: expected label=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
