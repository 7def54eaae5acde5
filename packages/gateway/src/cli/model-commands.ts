import type { Command } from "commander";
import type { DeleteModelResponse, ModelList, ModelListEntry, ModelRecord, RegisterModelRequest } from "@omnigate/shared/models";
import { CliError, modelPath } from "./admin-client.js";
import { describeNode, shortId, table } from "./format.js";
import { waitForModel } from "./wait-for-model.js";
import { type CommandContext, collect, positiveNumber, voiceEntry } from "./context.js";

interface AddOptions {
  name?: string;
  revision?: string;
  file: string[];
  runtime?: string;
  voice: Record<string, number>;
  wait?: boolean;
  timeout: number;
  interval: number;
}

export function registerModelCommands(program: Command, context: (cmd: Command) => CommandContext): void {
  const models = program.command("models").description("register, list and delete models");

  models
    .command("add")
    .description("register a model from a Hugging Face repo; every node that runs its runtime pulls it")
    .argument("<repo>", "Hugging Face repo id, org/name")
    .option("--name <name>", "public model name (default: the repo id)")
    .option("--revision <rev>", "branch, tag or commit (default: main)")
    .option("--file <pattern>", "file path or glob inside the repo; repeat for several", collect, [])
    .option("--runtime <runtime>", "llama_cpp | whisper | stable_diffusion | onnx_runtime (default: inferred from the files)")
    .option("--voice <name=id>", "text-to-speech: a name for one of the voice's speakers, e.g. alloy=0; repeat for several", voiceEntry, {})
    .option("--wait", "wait until a node reports it ready, showing each node's state and progress")
    .option("--timeout <seconds>", "with --wait: give up after this long", positiveNumber, 3600)
    .option("--interval <ms>", "with --wait: how often to poll", positiveNumber, 1000)
    .action(async (repo: string, opts: AddOptions, cmd: Command) => {
      const ctx = context(cmd);
      const body: RegisterModelRequest = { repo, files: opts.file };
      if (opts.name) body.name = opts.name;
      if (opts.revision) body.revision = opts.revision;
      if (opts.runtime) body.runtime = opts.runtime as RegisterModelRequest["runtime"];
      if (Object.keys(opts.voice).length > 0) body.options = { voices: opts.voice };
      const record = await ctx.client.call<ModelRecord>("POST", "/api/models", body);
      if (!ctx.json) {
        ctx.print(`registered ${record.name} (${record.repo}@${record.revision}, runtime ${record.runtime}, ${record.capabilities.join(", ")})`);
      }
      if (!opts.wait) {
        if (ctx.json) ctx.printJson(record);
        return;
      }
      // With --json, stdout carries only the final JSON; progress goes to stderr.
      const out = ctx.json ? process.stderr : process.stdout;
      const outcome = await waitForModel(ctx.client, record.name, { timeoutMs: opts.timeout * 1000, intervalMs: opts.interval, out });
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
          ["NAME", "RUNTIME", "READY", "NODES"],
          list.data.map((m) => [m.id, m.runtime, m.ready ? "yes" : "no", nodesCell(m)]),
        ),
      );
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
  if (m.nodes.length === 0) return `no online node runs ${m.runtime}`;
  return m.nodes.map((n) => `${shortId(n.runtime_id)} ${describeNode(n)}`).join("; ");
}
