import { FormData } from "undici";
import { findAndProbe } from "./binary.js";
import { probeOptions, type EngineConfig } from "./engine-env.js";
import { EngineRequestError, EngineSetupError } from "./engine-errors.js";
import { answersOk, connectionFailure, engineRequest, engineStatusError, readBytes } from "./engine-http.js";
import { imagesResponse, normaliseCreated, parseSize, rejectUrlFormat } from "./images.js";
import { extraArgs } from "./model-files.js";
import { sdCliPlan } from "./sd-cli.js";
import { sdModelFiles } from "./sd-model-files.js";
import type { EngineAdapter, EngineCall, EngineReply, ServerPlan, ServerTarget, UploadedFile } from "./types.js";

const ENGINE = "sd-server";
/** Denoising strength for variations and edits: keeps the composition, changes the details. */
export const IMG2IMG_STRENGTH = 0.75;

function blobOf(file: UploadedFile): Blob {
  return new Blob([file.buffer], { type: file.mimetype || "application/octet-stream" });
}

async function post(target: ServerTarget, path: string, body: string | FormData, signal: AbortSignal): Promise<unknown> {
  let res;
  let bytes: Buffer;
  try {
    res = await engineRequest(target, {
      method: "POST",
      path,
      body,
      headers: typeof body === "string" ? { "content-type": "application/json" } : {},
      signal,
    });
    bytes = await readBytes(res.body);
  } catch (err) {
    throw connectionFailure(err, ENGINE);
  }
  if (res.statusCode !== 200) throw engineStatusError(ENGINE, res.statusCode, bytes.toString("utf8"));
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    throw new EngineRequestError("engine_error", `${ENGINE} answered ${path} with something that is not JSON.`);
  }
}

/** sd-server's OpenAI-style answer with `created` in Unix seconds whatever the build sent. */
function normalise(body: unknown): EngineReply {
  const parsed = body as { created?: unknown; data?: unknown };
  if (!Array.isArray(parsed.data)) throw new EngineRequestError("engine_error", `${ENGINE} answered without image data.`);
  return { kind: "json", status: 200, body: { ...parsed, created: normaliseCreated(parsed.created) } };
}

async function forward(call: EngineCall, target: ServerTarget, signal: AbortSignal): Promise<EngineReply> {
  switch (call.capability) {
    case "image_generation": {
      const { body } = call;
      rejectUrlFormat(body.response_format);
      const request = { prompt: body.prompt, n: body.n, ...(body.size ? { size: body.size } : {}), output_format: "png" };
      return normalise(await post(target, "/v1/images/generations", JSON.stringify(request), signal));
    }
    case "image_edit": {
      const { fields } = call;
      rejectUrlFormat(fields.response_format);
      const form = new FormData();
      form.append("prompt", fields.prompt ?? "");
      for (const image of call.images) form.append("image[]", blobOf(image), image.originalname || "image.png");
      if (call.mask) form.append("mask", blobOf(call.mask), call.mask.originalname || "mask.png");
      form.append("n", String(fields.n));
      if (fields.size) form.append("size", fields.size);
      form.append("output_format", "png");
      return normalise(await post(target, "/v1/images/edits", form, signal));
    }
    case "image_variation": {
      // No OpenAI route for variations in sd-server: img2img on the image with an empty prompt.
      const { fields } = call;
      rejectUrlFormat(fields.response_format);
      const size = parseSize(fields.size);
      const request = {
        prompt: fields.prompt ?? "",
        init_images: [call.image.buffer.toString("base64")],
        denoising_strength: IMG2IMG_STRENGTH,
        batch_size: fields.n,
        ...(size ?? {}),
      };
      const answer = (await post(target, "/sdapi/v1/img2img", JSON.stringify(request), signal)) as { images?: unknown };
      if (!Array.isArray(answer.images) || answer.images.some((i) => typeof i !== "string")) {
        throw new EngineRequestError("engine_error", `${ENGINE} img2img answered without images.`);
      }
      return { kind: "json", status: 200, body: imagesResponse(answer.images as string[]) };
    }
    default:
      throw new EngineSetupError(`${ENGINE} does not serve ${call.capability}`);
  }
}

/**
 * stable-diffusion.cpp (runtime `stable_diffusion`): `sd-server` when present, else `sd-cli` run
 * once per request.
 */
export function createStableDiffusionAdapter(config: EngineConfig): EngineAdapter {
  let found: { kind: "server" | "cli"; binary: string } | undefined;
  return {
    runtime: "stable_diffusion",
    async probe() {
      const options = probeOptions(config);
      const server = await findAndProbe(config.OMNIGATE_SD_SERVER_BIN, ["sd-server"], "OMNIGATE_SD_SERVER_BIN", options);
      if (server.ok) {
        found = { kind: "server", binary: server.binary };
        return server;
      }
      const cli = await findAndProbe(config.OMNIGATE_SD_CLI_BIN, ["sd-cli", "sd"], "OMNIGATE_SD_CLI_BIN", options);
      if (cli.ok) {
        found = { kind: "cli", binary: cli.binary };
        return { ...cli, detail: `sd-cli fallback (${server.reason})` };
      }
      return { ok: false, reason: `${server.reason}; ${cli.reason}` };
    },
    plan(model, files) {
      if (!found) throw new EngineSetupError("neither sd-server nor sd-cli was found or runs on this node");
      const weights = sdModelFiles(model, files);
      const extra = extraArgs(config.OMNIGATE_SD_ARGS, "OMNIGATE_SD_ARGS", model);
      if (found.kind === "cli") return sdCliPlan(found.binary, weights, extra, config.OMNIGATE_ONESHOT_CONCURRENCY);
      const bin = found.binary;
      const plan: ServerPlan = {
        kind: "server",
        argv: (port) => [
          bin,
          ...extra,
          "-m",
          weights.model,
          ...(weights.vae ? ["--vae", weights.vae] : []),
          "-l",
          "127.0.0.1",
          "--listen-port",
          String(port),
        ],
        // No /health: the model loads before the port binds, and /v1/models answers once it serves.
        isReady: (target, signal) => answersOk(target, "/v1/models", signal),
        capacity: async () => 1,
        concurrency: 1,
        forward,
      };
      return plan;
    },
  };
}
