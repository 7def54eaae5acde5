import { ApiError } from "@omnigate/shared/errors";

/** A request the engine (or the agent on its behalf) refused or failed; becomes an OpenAI error body. */
export class EngineRequestError extends ApiError {
  override readonly name = "EngineRequestError";
}

/** A model whose files or options cannot run on its engine (no .gguf, no tokens.txt…). */
export class EngineSetupError extends Error {
  override readonly name = "EngineSetupError";
}

/** `Model 'x' …` prefixes, kept in one place so messages read alike. */
export function modelLabel(name: string): string {
  return `Model '${name}'`;
}
