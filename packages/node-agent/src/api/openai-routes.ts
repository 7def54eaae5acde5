import type { IncomingMessage, ServerResponse } from "node:http";
import { Router } from "express";
import {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
  ImageEditFields,
  ImageGenerationRequest,
  SpeechRequest,
  TranscriptionFields,
} from "@omnigate/shared/openai";
import { CAPABILITY_ENDPOINTS, type Capability } from "@omnigate/shared/runtimes";
import type { Logger } from "../logger.js";
import type { EngineConfig } from "../engines/engine-env.js";
import { EngineRequestError } from "../engines/engine-errors.js";
import type { EngineCall, UploadedFile } from "../engines/types.js";
import type { ModelDataPlane } from "../supervisor/types.js";
import {
  answerBodyError,
  bodyErrors,
  formFields,
  jsonParser,
  multipartParser,
  rawBody,
  uploadedFiles,
  validate,
  type ApiRequest,
  type BodyLimits,
} from "./openai-body.js";
import { sendError, sendFailure, sendReply } from "./openai-reply.js";

export interface OpenAIRouterDeps {
  /** The model server (`EngineModelServer` implements this). */
  readonly server: ModelDataPlane;
  readonly logger: Logger;
  /** Body limits; `openAILimits(config)` reads them from OMNIGATE_MAX_UPLOAD_BYTES / OMNIGATE_MAX_BODY_BYTES. */
  readonly limits?: BodyLimits;
}

const MIB = 1024 * 1024;

export function openAILimits(config: Pick<EngineConfig, "OMNIGATE_MAX_UPLOAD_BYTES" | "OMNIGATE_MAX_BODY_BYTES">): BodyLimits {
  return { maxUploadBytes: config.OMNIGATE_MAX_UPLOAD_BYTES, maxJsonBytes: config.OMNIGATE_MAX_BODY_BYTES };
}

/** Builds the engine call from a parsed request (throws EngineRequestError on bad input). */
type Build = (req: ApiRequest) => { model: string; call: EngineCall };

function requireOne(req: ApiRequest, names: readonly string[], what: string): UploadedFile {
  const file = uploadedFiles(req).find((f) => names.includes(f.fieldname));
  if (!file) throw new EngineRequestError("invalid_request", `The '${names[0]}' part (${what}) is required.`, names[0]);
  return file;
}

const BUILDERS: Record<Capability, Build> = {
  chat: (req) => {
    const body = validate(ChatCompletionRequest, req.body);
    return { model: body.model, call: { capability: "chat", body, raw: rawBody(req), stream: body.stream === true } };
  },
  completion: (req) => {
    const body = validate(CompletionRequest, req.body);
    return { model: body.model, call: { capability: "completion", body, raw: rawBody(req), stream: body.stream === true } };
  },
  embedding: (req) => {
    const body = validate(EmbeddingRequest, req.body);
    return { model: body.model, call: { capability: "embedding", body, raw: rawBody(req), stream: false } };
  },
  speech: (req) => {
    const body = validate(SpeechRequest, req.body);
    return { model: body.model, call: { capability: "speech", body } };
  },
  image_generation: (req) => {
    const body = validate(ImageGenerationRequest, req.body);
    return { model: body.model, call: { capability: "image_generation", body } };
  },
  transcription: (req) => {
    const fields = validate(TranscriptionFields, formFields(req));
    const file = requireOne(req, ["file"], "the audio file");
    return { model: fields.model, call: { capability: "transcription", fields, file } };
  },
  translation: (req) => {
    const fields = validate(TranscriptionFields, formFields(req));
    const file = requireOne(req, ["file"], "the audio file");
    return { model: fields.model, call: { capability: "translation", fields, file } };
  },
  image_edit: (req) => {
    const fields = validate(ImageEditFields, formFields(req));
    const files = uploadedFiles(req);
    const images = files.filter((f) => f.fieldname === "image" || f.fieldname === "image[]");
    if (images.length === 0) throw new EngineRequestError("invalid_request", "The 'image' part (the image to edit) is required.", "image");
    const mask = files.find((f) => f.fieldname === "mask");
    return { model: fields.model, call: { capability: "image_edit", fields, images, ...(mask ? { mask } : {}) } };
  },
  image_variation: (req) => {
    const fields = validate(ImageEditFields, formFields(req));
    const image = requireOne(req, ["image", "image[]"], "the image to vary");
    return { model: fields.model, call: { capability: "image_variation", fields, image } };
  },
};

const MULTIPART: ReadonlySet<Capability> = new Set(["transcription", "translation", "image_edit", "image_variation"]);

/**
 * The same endpoints without Express, for the agent's HTTP server to try before the app (Express's
 * routing and request decoration cost more CPU per request than the rest of the agent hop). The
 * caller checks the node secret between `match` and `serve`, as the app's auth middleware does.
 */
export interface OpenAIFastPath {
  /** The capability when `req` is a POST to exactly one of the nine endpoint paths, else undefined. */
  match(req: IncomingMessage): Capability | undefined;
  /** Parses the body with the router's own parsers and limits, then serves it like the router. */
  serve(capability: Capability, req: IncomingMessage, res: ServerResponse): void;
}

const FAST_PATHS = new WeakMap<Router, OpenAIFastPath>();

/** The fast path of a router made by `createOpenAIRouter` (undefined for any other router). */
export function openAIFastPath(router: Router): OpenAIFastPath | undefined {
  return FAST_PATHS.get(router);
}

/**
 * The agent's OpenAI data plane: each endpoint of the runtime table, forwarded to the engine that
 * holds the named model. Mounted by the agent app behind node-secret auth; `openAIFastPath(router)`
 * serves the same endpoints with the same code before Express.
 */
export function createOpenAIRouter(deps: OpenAIRouterDeps): Router {
  const limits = deps.limits ?? { maxUploadBytes: 25 * MIB, maxJsonBytes: 10 * MIB };
  const log = deps.logger.child({ component: "data-plane" });
  const router = Router();
  const json = jsonParser(limits);
  const multipart = multipartParser(limits);

  /** One request whose body the parser has read (`req.body`, `req.files`). */
  const handle = async (capability: Capability, req: ApiRequest, res: ServerResponse): Promise<void> => {
    let built: { model: string; call: EngineCall };
    try {
      built = BUILDERS[capability](req);
    } catch (err) {
      sendFailure(res, err, log);
      return;
    }
    const opened = deps.server.open(built.model, capability);
    if (!opened.ok) {
      sendError(res, opened.code, opened.message, "model");
      return;
    }
    const { lease } = opened;
    const controller = new AbortController();
    // 'close' comes after the response finished or when the client went away: the lease ends
    // here either way, and an unfinished response aborts the engine request.
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new Error("client closed the connection"));
      lease.release();
    });
    if (res.destroyed || req.socket.destroyed) {
      controller.abort(new Error("client closed the connection"));
      lease.release();
      return;
    }
    try {
      const reply = await lease.call(built.call, controller.signal);
      await sendReply(res, reply, controller.signal, log);
    } catch (err) {
      if (controller.signal.aborted) return;
      sendFailure(res, err, log);
    }
  };

  const paths = new Map<string, Capability>();
  for (const capability of Object.keys(BUILDERS) as Capability[]) {
    paths.set(CAPABILITY_ENDPOINTS[capability], capability);
    router.post(CAPABILITY_ENDPOINTS[capability], MULTIPART.has(capability) ? multipart : json, (req, res) => handle(capability, req, res));
  }
  router.use(bodyErrors(limits));

  FAST_PATHS.set(router, {
    match(req) {
      if (req.method !== "POST" || !req.url) return undefined;
      const q = req.url.indexOf("?");
      return paths.get(q < 0 ? req.url : req.url.slice(0, q));
    },
    serve(capability, req, res) {
      const parse = MULTIPART.has(capability) ? multipart : json;
      parse(req, res, (err) => {
        if (err === undefined || err === null) {
          void handle(capability, req, res);
          return;
        }
        if (answerBodyError(err, res, limits)) return;
        // What the agent app's error handler answers for anything else the parsers throw.
        if (res.headersSent) {
          res.destroy();
          return;
        }
        log.error({ request_id: req.headers["x-request-id"], err, method: req.method, url: req.url }, "request failed");
        sendError(res, "internal_error", "The node agent hit an internal error; the details are in its log.");
      });
    },
  });
  return router;
}
