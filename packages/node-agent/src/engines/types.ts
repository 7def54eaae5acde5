import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { ModelRecord } from "@omnigate/shared/models";
import type {
  ImageEditFields,
  ImageGenerationRequest,
  SpeechRequest,
  TranscriptionFields,
} from "@omnigate/shared/openai";
import type { RuntimeType } from "@omnigate/shared/runtimes";
import type { Logger } from "../logger.js";
import type { CachedModel } from "../cache/types.js";

/** One uploaded multipart file, as multer's memory storage hands it over. */
export interface UploadedFile {
  readonly fieldname: string;
  readonly originalname: string;
  readonly mimetype: string;
  readonly size: number;
  readonly buffer: Buffer;
}

/** A validated OpenAI request, per capability, ready for an engine. */
export type EngineCall =
  | {
      readonly capability: "chat" | "completion" | "embedding";
      /** The request body exactly as the client sent it (engines accept fields OpenAI lacks). */
      readonly body: Readonly<Record<string, unknown>>;
      /** The body's bytes when the client's JSON can be forwarded as is (no re-serialising). */
      readonly raw?: Buffer;
      readonly stream: boolean;
    }
  | { readonly capability: "transcription" | "translation"; readonly fields: TranscriptionFields; readonly file: UploadedFile }
  | { readonly capability: "speech"; readonly body: SpeechRequest }
  | { readonly capability: "image_generation"; readonly body: ImageGenerationRequest }
  | {
      readonly capability: "image_edit";
      readonly fields: ImageEditFields;
      readonly images: readonly UploadedFile[];
      readonly mask?: UploadedFile;
    }
  | { readonly capability: "image_variation"; readonly fields: ImageEditFields; readonly image: UploadedFile };

/** What goes back to the client. Failures are thrown as `EngineRequestError`. */
export type EngineReply =
  | { readonly kind: "json"; readonly status: number; readonly body: unknown }
  | {
      readonly kind: "bytes";
      readonly status: number;
      readonly contentType: string;
      readonly body: Buffer;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** Server-sent events passed through chunk by chunk; destroying the stream aborts the engine request. */
  | { readonly kind: "sse"; readonly status: number; readonly body: Readable };

/** A running engine server, as a request sees it. */
export interface ServerTarget {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** Keep-alive connection pool to the engine. */
  readonly pool: Dispatcher;
  /** Engine request timeout in ms (0 = none). */
  readonly timeoutMs: number;
}

/**
 * What a request needs from the agent to run processes (a one-shot engine, or ffmpeg after a server
 * engine answered): a runner with the engine environment, temp dirs, ffmpeg if the node has it.
 */
export interface OneShotContext {
  /** Runs argv[0] with argv[1..] (no shell); resolves with its exit; kills it on abort or timeout. */
  run(argv: readonly string[], options: { cwd: string; signal: AbortSignal }): Promise<OneShotResult>;
  /** A fresh temp dir, removed by the caller's `finally` through `cleanup`. */
  tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }>;
  readonly logger: Logger;
  readonly ffmpeg: string | undefined;
}

export interface OneShotResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last output lines (stderr and stdout), for error messages. */
  readonly tail: string;
}

/**
 * A call the engine answers as it is: the client's own bytes POSTed to `path`, the answer relayed
 * back as it comes (api/engine-relay.ts), or read whole when the agent must wait for the engine
 * first. An answer other than 2xx becomes the OpenAI error `failure` makes of it.
 */
export interface EnginePassThrough {
  /** The engine as errors name it ("llama-server"). */
  readonly engine: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The client asked for a stream: a 200 `text/event-stream` answer is relayed as SSE. */
  readonly stream: boolean;
  failure(status: number, body: string): Error;
}

/** A model run as a long-lived HTTP engine process. */
export interface ServerPlan {
  readonly kind: "server";
  /** The engine as logs name it; default: its binary's file name (a node program would be "node"). */
  readonly name?: string;
  /** The engine's full argv (binary first) for a free port; never run through a shell. */
  argv(port: number): string[];
  /** One readiness poll: true when the engine serves requests. Connection errors mean "not yet". */
  isReady(target: ServerTarget, signal: AbortSignal): Promise<boolean>;
  /** How many requests it runs at once, asked once it is ready. */
  capacity(target: ServerTarget, signal: AbortSignal): Promise<number>;
  /** Agent-side queue: at most this many requests at the engine at once; null = the engine queues itself. */
  readonly concurrency: number | null;
  /**
   * Work on the request that needs no engine (converting audio the engine cannot decode), done
   * before the request waits for its turn, so it does not hold one of the engine's slots.
   */
  prepare?(call: EngineCall, processes: OneShotContext, signal: AbortSignal): Promise<EngineCall>;
  /** `processes` runs ffmpeg: post-processing the answer (TTS formats), converting what the engine refused. */
  forward(call: EngineCall, target: ServerTarget, signal: AbortSignal, processes: OneShotContext): Promise<EngineReply>;
  /**
   * The call as the engine takes it as it is, when it does (llama-server's chat, completions and
   * embeddings): the agent's data plane then relays it to a running engine without building an
   * EngineReply (`forward` stays the way when the engine must be waited for). Undefined otherwise.
   */
  passThrough?(call: EngineCall): EnginePassThrough | undefined;
}

/** A model run as one process per request (sherpa-onnx-offline-tts, sd-cli). */
export interface OneShotPlan {
  readonly kind: "oneshot";
  /** Requests run at once (a p-queue in the agent). */
  readonly concurrency: number;
  run(call: EngineCall, context: OneShotContext, signal: AbortSignal): Promise<EngineReply>;
}

export type EnginePlan = ServerPlan | OneShotPlan;

export type ProbeResult =
  | { readonly ok: true; readonly binary: string; readonly detail: string }
  | { readonly ok: false; readonly reason: string };

/**
 * One inference runtime (docs/engines.md). Adding an engine = one file implementing this and one line in
 * `registry.ts`.
 */
export interface EngineAdapter {
  readonly runtime: RuntimeType;
  /** Finds the binary (config variable or PATH name) and checks it starts. Called once, at agent start. */
  probe(): Promise<ProbeResult>;
  /**
   * How to run `model` from its cached files, with the binary found by `probe`. Throws
   * `EngineSetupError` when the files cannot serve (no model file, no tokens…).
   */
  plan(model: ModelRecord, files: CachedModel): EnginePlan;
}
