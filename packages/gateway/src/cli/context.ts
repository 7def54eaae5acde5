import { InvalidArgumentError, type Command } from "commander";
import { AdminClient, resolveSettings } from "./admin-client.js";

/** What every command gets: the client and the output mode. */
export interface CommandContext {
  readonly client: AdminClient;
  readonly json: boolean;
  print(text: string): void;
  printJson(value: unknown): void;
}

export function commandContext(cmd: Command, env: NodeJS.ProcessEnv = process.env, options: { keyOptional?: boolean } = {}): CommandContext {
  const globals = cmd.optsWithGlobals<{ url?: string; json?: boolean }>();
  return {
    client: new AdminClient(resolveSettings(env, globals.url, options)),
    json: globals.json === true,
    print: (text) => console.log(text),
    printJson: (value) => console.log(JSON.stringify(value, null, 2)),
  };
}

/** Commander's repeatable option: `--file a --file b` → ["a", "b"]. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--voice alloy=0`, repeatable: OpenAI voice name → the voice's speaker id. */
export function voiceEntry(value: string, previous: Record<string, number>): Record<string, number> {
  const match = /^([^=]+)=(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("must be name=speaker-id, e.g. alloy=0");
  return { ...previous, [match[1]!]: Number(match[2]) };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
}
