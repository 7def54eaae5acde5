import type { IncomingMessage, ServerResponse } from "node:http";
import { ENDPOINTS, formFields, missingFilePart, validBody, type EndpointSpec, type JsonEndpoint, type MultipartEndpoint } from "@omnigate/shared/endpoints";
import { ApiError } from "@omnigate/shared/errors";
import type { Capability } from "@omnigate/shared/runtimes";
import { parseBody } from "@omnigate/shared/validation";
import { multipartError } from "@omnigate/server-kit/body-errors";
import { readJsonObject } from "@omnigate/server-kit/json-body";
import { ClientGoneError, type BodyLimit } from "@omnigate/server-kit/read-body";
import type { RequestTiming } from "@omnigate/server-kit/request-metrics";
import { errorResponder } from "@omnigate/server-kit/respond";
import type { Logger } from "../logger.js";
import type { EngineConfig } from "../engines/engine-env.js";
import { EngineRequestError } from "../engines/engine-errors.js";
import type { EngineCall, UploadedFile } from "../engines/types.js";
import type { EngineLease, ModelDataPlane } from "../supervisor/types.js";
import { EngineRelay } from "./engine-relay.js";
import { multipartParser, uploadedFiles, type ApiRequest, type BodyLimits } from "./openai-body.js";
import { sendReply } from "./openai-reply.js";

export interface AgentDataPlaneDeps {
  /** The model server (`EngineModelServer` implements this). */
  readonly server: ModelDataPlane;
  readonly logger: Logger;
  /** Body limits; `openAILimits(config)` reads them from OMNIGATE_MAX_UPLOAD_BYTES / OMNIGATE_MAX_BODY_BYTES. */
  readonly limits?: BodyLimits;
}

const MIB = 1024 * 1024;
const WHO = "this node";

export function openAILimits(config: Pick<EngineConfig, "OMNIGATE_MAX_UPLOAD_BYTES" | "OMNIGATE_MAX_BODY_BYTES">): BodyLimits {
  return { maxUploadBytes: config.OMNIGATE_MAX_UPLOAD_BYTES, maxBodyBytes: config.OMNIGATE_MAX_BODY_BYTES };
}

/** A request as the engine takes it, and the model it names. */
interface Built {
  readonly model: string;
  readonly call: EngineCall;
}

type JsonCapability = "chat" | "completion" | "embedding" | "speech" | "image_generation";
type MultipartCapability = Exclude<Capability, JsonCapability>;

/** Builds the engine call from a JSON body and its bytes (throws an ApiError on bad input). */
const JSON_BUILDERS: Record<JsonCapability, (value: Record<string, unknown>, raw: Buffer) => Built> = {
  chat: (value, raw) => {
    const body = validBody(ENDPOINTS.chat, value);
    return { model: body.model, call: { capability: "chat", body, raw, stream: body.stream === true } };
  },
  completion: (value, raw) => {
    const body = validBody(ENDPOINTS.completion, value);
    return { model: body.model, call: { capability: "completion", body, raw, stream: body.stream === true } };
  },
  embedding: (value, raw) => {
    const body = validBody(ENDPOINTS.embedding, value);
    return { model: body.model, call: { capability: "embedding", body, raw, stream: false } };
  },
  speech: (value) => {
    const body = validBody(ENDPOINTS.speech, value);
    return { model: body.model, call: { capability: "speech", body } };
  },
  image_generation: (value) => {
    const body = validBody(ENDPOINTS.image_generation, value);
    return { model: body.model, call: { capability: "image_generation", body } };
  },
};

/** The endpoint's file parts (at least one), under any of its field names. */
function fileParts(req: ApiRequest, spec: MultipartEndpoint): UploadedFile[] {
  const files = uploadedFiles(req).filter((f) => spec.file.fields.includes(f.fieldname));
  if (files.length === 0) {
    const { message, param } = missingFilePart(spec);
    throw new ApiError("invalid_multipart", message, param);
  }
  return files;
}

/** Builds the engine call from a form multer has read (`req.body`, `req.files`). */
const MULTIPART_BUILDERS: Record<MultipartCapability, (req: ApiRequest) => Built> = {
  transcription: (req) => {
    const fields = parseBody(ENDPOINTS.transcription.schema, formFields(req.body));
    const [file] = fileParts(req, ENDPOINTS.transcription);
    return { model: fields.model, call: { capability: "transcription", fields, file: file! } };
  },
  translation: (req) => {
    const fields = parseBody(ENDPOINTS.translation.schema, formFields(req.body));
    const [file] = fileParts(req, ENDPOINTS.translation);
    return { model: fields.model, call: { capability: "translation", fields, file: file! } };
  },
  image_edit: (req) => {
    const fields = parseBody(ENDPOINTS.image_edit.schema, formFields(req.body));
    const images = fileParts(req, ENDPOINTS.image_edit);
    const mask = uploadedFiles(req).find((f) => f.fieldname === "mask");
    return { model: fields.model, call: { capability: "image_edit", fields, images, ...(mask ? { mask } : {}) } };
  },
  image_variation: (req) => {
    const fields = parseBody(ENDPOINTS.image_variation.schema, formFields(req.body));
    const [image] = fileParts(req, ENDPOINTS.image_variation);
    return { model: fields.model, call: { capability: "image_variation", fields, image: image! } };
  },
};

/** The agent's OpenAI data plane: the nine endpoints, forwarded to the engine holding the model. */
export interface AgentDataPlane {
  /**
   * Reads the body within the data plane's limits, then forwards it. The caller (the agent's
   * listener) matched `spec`, checked the node secret and times the request in `timing`.
   */
  serve(spec: EndpointSpec, req: IncomingMessage, res: ServerResponse, timing: RequestTiming): void;
}

/**
 * The agent's OpenAI data plane: each endpoint of the shared table, forwarded to the engine that
 * holds the named model. Its one entrance is the agent's listener (api/listener.ts), which hands
 * it the nine endpoints before anything else sees them. A call the engine takes as it is (llama.cpp's)
 * is relayed to a running engine directly (api/engine-relay.ts); any other goes through the engine's
 * lease and comes back as an EngineReply.
 */
export function createAgentDataPlane(deps: AgentDataPlaneDeps): AgentDataPlane {
  const limits = deps.limits ?? { maxUploadBytes: 25 * MIB, maxBodyBytes: 10 * MIB };
  const log = deps.logger.child({ component: "data-plane" });
  const respond = errorResponder({ log, limits: { who: WHO, ...limits } });
  const multipart = multipartParser(limits);
  const jsonBound: BodyLimit = { limit: limits.maxBodyBytes, what: "JSON body", variable: "OMNIGATE_MAX_BODY_BYTES", who: WHO };

  async function serveJson(spec: JsonEndpoint, req: IncomingMessage, res: ServerResponse, timing: RequestTiming): Promise<void> {
    let built: Built;
    try {
      const { value, bytes } = await readJsonObject(req, spec.path, jsonBound);
      built = JSON_BUILDERS[spec.capability as JsonCapability](value, bytes);
    } catch (err) {
      if (!(err instanceof ClientGoneError)) respond(res, err);
      return;
    }
    await run(spec.capability, built, req, res, timing);
  }

  function serveMultipart(spec: MultipartEndpoint, req: ApiRequest, res: ServerResponse, timing: RequestTiming): void {
    multipart(req, res, (err) => {
      if (err !== undefined && err !== null) {
        respond(res, multipartError(err, { who: WHO, ...limits }));
        return;
      }
      let built: Built;
      try {
        built = MULTIPART_BUILDERS[spec.capability as MultipartCapability](req);
      } catch (buildError) {
        respond(res, buildError);
        return;
      }
      void run(spec.capability, built, req, res, timing);
    });
  }

  /** One request whose body is read and valid: to the engine holding its model. */
  async function run(capability: Capability, built: Built, req: IncomingMessage, res: ServerResponse, timing: RequestTiming): Promise<void> {
    const opened = deps.server.open(built.model, capability);
    // A name the node holds becomes the metrics label; any other stays "".
    if (opened.ok || opened.code !== "model_not_found") timing.model = built.model;
    if (!opened.ok) {
      respond(res, new EngineRequestError(opened.code, opened.message, "model"));
      return;
    }
    const { lease } = opened;
    // The client left while its body was read: nobody to answer, nothing to hold.
    if (res.destroyed || req.socket.destroyed) {
      lease.release();
      return;
    }
    const direct = lease.passThrough(built.call);
    if (direct) {
      const relay = new EngineRelay(direct.target, direct.pass, res, timing, respond, log);
      res.once("close", () => {
        if (!res.writableFinished) relay.abort();
        lease.release();
      });
      return;
    }
    await callThroughLease(lease, built.call, res, timing);
  }

  /** The lease's way: the queue, an engine that must come back first, a reply built whole. */
  async function callThroughLease(lease: EngineLease, call: EngineCall, res: ServerResponse, timing: RequestTiming): Promise<void> {
    const controller = new AbortController();
    // 'close' comes after the response finished or when the client went away: the lease ends
    // here either way, and an unfinished response aborts the engine request.
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new Error("client closed the connection"));
      lease.release();
    });
    try {
      const reply = await lease.call(call, controller.signal);
      await sendReply(res, reply, controller.signal, log, timing);
    } catch (err) {
      if (controller.signal.aborted) return;
      respond(res, err);
    }
  }

  return {
    serve(spec, req, res, timing) {
      if (spec.body === "json") void serveJson(spec, req, res, timing);
      else serveMultipart(spec, req, res, timing);
    },
  };
}
