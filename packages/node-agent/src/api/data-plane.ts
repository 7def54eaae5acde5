import type { IncomingMessage, ServerResponse } from "node:http";
import { ENDPOINTS, formFields, missingFilePart, type EndpointSpec, type MultipartEndpoint } from "@omnigate/shared/endpoints";
import { ApiError } from "@omnigate/shared/errors";
import type { Capability } from "@omnigate/shared/runtimes";
import { parseBody } from "@omnigate/shared/validation";
import { multipartError } from "@omnigate/server-kit/body-errors";
import { errorResponder } from "@omnigate/server-kit/respond";
import type { Logger } from "../logger.js";
import type { EngineConfig } from "../engines/engine-env.js";
import { EngineRequestError } from "../engines/engine-errors.js";
import type { EngineCall, UploadedFile } from "../engines/types.js";
import type { ModelDataPlane } from "../supervisor/types.js";
import { jsonParser, multipartParser, rawBody, uploadedFiles, type ApiRequest, type BodyLimits } from "./openai-body.js";
import { sendReply } from "./openai-reply.js";

export interface AgentDataPlaneDeps {
  /** The model server (`EngineModelServer` implements this). */
  readonly server: ModelDataPlane;
  readonly logger: Logger;
  /** Body limits; `openAILimits(config)` reads them from OMNIGATE_MAX_UPLOAD_BYTES / OMNIGATE_MAX_BODY_BYTES. */
  readonly limits?: BodyLimits;
}

const MIB = 1024 * 1024;

export function openAILimits(config: Pick<EngineConfig, "OMNIGATE_MAX_UPLOAD_BYTES" | "OMNIGATE_MAX_BODY_BYTES">): BodyLimits {
  return { maxUploadBytes: config.OMNIGATE_MAX_UPLOAD_BYTES, maxBodyBytes: config.OMNIGATE_MAX_BODY_BYTES };
}

/** Builds the engine call from a parsed request (throws an ApiError on bad input). */
type Build = (req: ApiRequest) => { model: string; call: EngineCall };

/** The endpoint's file parts (at least one), under any of its field names. */
function fileParts(req: ApiRequest, spec: MultipartEndpoint): UploadedFile[] {
  const files = uploadedFiles(req).filter((f) => spec.file.fields.includes(f.fieldname));
  if (files.length === 0) {
    const { message, param } = missingFilePart(spec);
    throw new ApiError("invalid_multipart", message, param);
  }
  return files;
}

const BUILDERS: Record<Capability, Build> = {
  chat: (req) => {
    const body = parseBody(ENDPOINTS.chat.schema, req.body);
    return { model: body.model, call: { capability: "chat", body, raw: rawBody(req), stream: body.stream === true } };
  },
  completion: (req) => {
    const body = parseBody(ENDPOINTS.completion.schema, req.body);
    return { model: body.model, call: { capability: "completion", body, raw: rawBody(req), stream: body.stream === true } };
  },
  embedding: (req) => {
    const body = parseBody(ENDPOINTS.embedding.schema, req.body);
    return { model: body.model, call: { capability: "embedding", body, raw: rawBody(req), stream: false } };
  },
  speech: (req) => {
    const body = parseBody(ENDPOINTS.speech.schema, req.body);
    return { model: body.model, call: { capability: "speech", body } };
  },
  image_generation: (req) => {
    const body = parseBody(ENDPOINTS.image_generation.schema, req.body);
    return { model: body.model, call: { capability: "image_generation", body } };
  },
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
   * Parses the body with the data plane's parsers and limits, then forwards it. The caller (the
   * agent's listener) matched `spec` and checked the node secret.
   */
  serve(spec: EndpointSpec, req: IncomingMessage, res: ServerResponse): void;
}

/**
 * The agent's OpenAI data plane: each endpoint of the shared table, forwarded to the engine that
 * holds the named model. Its one entrance is the agent's listener (api/listener.ts), which hands
 * it the nine endpoints before anything else sees them.
 */
export function createAgentDataPlane(deps: AgentDataPlaneDeps): AgentDataPlane {
  const limits = deps.limits ?? { maxUploadBytes: 25 * MIB, maxBodyBytes: 10 * MIB };
  const log = deps.logger.child({ component: "data-plane" });
  const respond = errorResponder({ log, limits: { who: "this node", ...limits } });
  const json = jsonParser(limits);
  const multipart = multipartParser(limits);

  /** One request whose body the parser has read (`req.body`, `req.files`). */
  const handle = async (capability: Capability, req: ApiRequest, res: ServerResponse): Promise<void> => {
    let built: { model: string; call: EngineCall };
    try {
      built = BUILDERS[capability](req);
    } catch (err) {
      respond(res, err);
      return;
    }
    const opened = deps.server.open(built.model, capability);
    if (!opened.ok) {
      respond(res, new EngineRequestError(opened.code, opened.message, "model"));
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
      respond(res, err);
    }
  };

  return {
    serve(spec, req, res) {
      const parse = spec.body === "multipart" ? multipart : json;
      parse(req, res, (err) => {
        if (err === undefined || err === null) {
          void handle(spec.capability, req, res);
          return;
        }
        respond(res, spec.body === "multipart" ? multipartError(err, { who: "this node", ...limits }) : err);
      });
    },
  };
}
