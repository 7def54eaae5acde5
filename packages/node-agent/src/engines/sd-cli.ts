import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EngineRequestError } from "./engine-errors.js";
import { imagesResponse, parseSize, rejectUrlFormat } from "./images.js";
import type { SdModelFiles } from "./sd-model-files.js";
import type { EngineCall, EngineReply, OneShotContext, OneShotPlan } from "./types.js";

const ENGINE = "sd-cli";
const STRENGTH = "0.75";

/** sd-cli names a batch out.png, out_2.png, out_3.png… */
function outputPaths(dir: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => join(dir, i === 0 ? "out.png" : `out_${i + 1}.png`));
}

async function run(
  binary: string,
  weights: SdModelFiles,
  extra: readonly string[],
  call: EngineCall,
  context: OneShotContext,
  signal: AbortSignal,
): Promise<EngineReply> {
  const tmp = await context.tempDir();
  try {
    const args: string[] = [];
    let n: number;
    let prompt: string;
    let size: string | undefined;
    switch (call.capability) {
      case "image_generation":
        rejectUrlFormat(call.body.response_format);
        ({ n, prompt, size } = call.body);
        break;
      case "image_edit":
      case "image_variation": {
        rejectUrlFormat(call.fields.response_format);
        n = call.fields.n;
        prompt = call.fields.prompt ?? "";
        size = call.fields.size;
        const init = call.capability === "image_edit" ? call.images[0] : call.image;
        if (!init) throw new EngineRequestError("invalid_request", "An image is required.", "image");
        // stb_image detects the format from the bytes, so the name's extension does not matter.
        await writeFile(join(tmp.path, "init.png"), init.buffer);
        args.push("-i", join(tmp.path, "init.png"), "--strength", STRENGTH);
        if (call.capability === "image_edit" && call.mask) {
          await writeFile(join(tmp.path, "mask.png"), call.mask.buffer);
          args.push("--mask", join(tmp.path, "mask.png"));
        }
        break;
      }
      default:
        throw new EngineRequestError("invalid_request", `${ENGINE} does not serve ${call.capability}.`);
    }
    const dims = parseSize(size);
    const outputs = outputPaths(tmp.path, n);
    const argv = [
      binary,
      ...extra,
      "-m",
      weights.model,
      ...(weights.vae ? ["--vae", weights.vae] : []),
      "-p",
      prompt,
      ...(dims ? ["-W", String(dims.width), "-H", String(dims.height)] : []),
      "-b",
      String(n),
      "-s",
      "-1",
      ...args,
      "-o",
      outputs[0]!,
    ];
    const result = await context.run(argv, { cwd: tmp.path, signal });
    if (result.code !== 0) {
      throw new EngineRequestError("engine_error", `${ENGINE} exited with ${result.signal ?? result.code}: ${result.tail || "(no output)"}`);
    }
    const images: string[] = [];
    for (const path of outputs) {
      try {
        images.push((await readFile(path)).toString("base64"));
      } catch {
        throw new EngineRequestError("engine_error", `${ENGINE} finished but wrote no image ${path.split("/").pop()}: ${result.tail}`);
      }
    }
    return { kind: "json", status: 200, body: imagesResponse(images) };
  } finally {
    await tmp.cleanup();
  }
}

/** sd-cli, one process per request (it loads the model each time: slow, but needs no server). */
export function sdCliPlan(binary: string, weights: SdModelFiles, extra: readonly string[], concurrency: number): OneShotPlan {
  return {
    kind: "oneshot",
    concurrency,
    run: (call, context, signal) => run(binary, weights, extra, call, context, signal),
  };
}
