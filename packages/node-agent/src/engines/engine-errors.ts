import { ApiError, type ErrorCode } from "@omnigate/shared/errors";

/** Seconds a client should wait before retrying a model whose engine is starting. */
const RETRY_AFTER_S = "2";

/** A request the engine (or the agent on its behalf) refused or failed; becomes an OpenAI error body. */
export class EngineRequestError extends ApiError {
  override readonly name = "EngineRequestError";
  constructor(code: ErrorCode, message: string, param: string | null = null) {
    super(code, message, param, code === "model_not_ready" ? { "Retry-After": RETRY_AFTER_S } : {});
  }
}

/** A model whose files or options cannot run on its engine (no .gguf, no tokens.txt…). */
export class EngineSetupError extends Error {
  override readonly name = "EngineSetupError";
}

/** `Model 'x' …` prefixes, kept in one place so messages read alike. */
export function modelLabel(name: string): string {
  return `Model '${name}'`;
}
