import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import PQueue from "p-queue";
import { encodeWav16 } from "./wav.js";
import { MAX_BODY_BYTES, SynthesizeRequest, TTS_ENGINE_PATHS, type TtsEngineHealth } from "./protocol.js";
import type { OfflineTts } from "./sherpa.js";

const NOTHING_TO_SAY = "the voice produced no audio for this text: none of its characters or phonemes is in the voice's tokens.txt";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length });
  res.end(bytes);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "the request body is not JSON");
  }
}

/** The engine's HTTP server around one loaded voice (protocol.ts). Not yet listening. */
export function createTtsServer(tts: OfflineTts, sherpaVersion: string): Server {
  // One synthesis at a time: espeak-ng, which piper voices phonemize with, is not thread-safe, and
  // the voice already uses --num-threads for one request.
  const queue = new PQueue({ concurrency: 1 });
  const health: TtsEngineHealth = { status: "ok", sample_rate: tts.sampleRate, num_speakers: tts.numSpeakers, sherpa_onnx: sherpaVersion };
  const speakers = Math.max(1, tts.numSpeakers);

  async function synthesize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = SynthesizeRequest.safeParse(await readJson(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new HttpError(400, `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const { text, sid, speed } = parsed.data;
    if (sid >= speakers) {
      throw new HttpError(400, `speaker id ${sid} is out of range: this voice has ${speakers} speaker(s), ids 0-${speakers - 1}`);
    }
    // The agent aborts its request when its client goes away: a request still queued is dropped then.
    // (One being synthesized runs to its end: sherpa-onnx-node's async generation cannot be stopped.)
    let gone = false;
    res.once("close", () => (gone = !res.writableFinished));
    const samples = await queue.add(async () => {
      if (gone) return undefined;
      try {
        return (await tts.generateAsync({ text, sid, speed })).samples;
      } catch (err) {
        // sherpa-onnx rejects a text that yields no token ("produced no audio").
        if (err instanceof Error && /no audio/i.test(err.message)) return new Float32Array(0);
        throw err;
      }
    });
    if (gone || !samples) return;
    if (samples.length === 0) throw new HttpError(400, NOTHING_TO_SAY);
    const wav = encodeWav16(samples, tts.sampleRate);
    res.writeHead(200, { "content-type": "audio/wav", "content-length": wav.length });
    res.end(wav);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const method = path === TTS_ENGINE_PATHS.health ? "GET" : path === TTS_ENGINE_PATHS.synthesize ? "POST" : undefined;
    if (!method) throw new HttpError(404, `no route ${path}: use GET ${TTS_ENGINE_PATHS.health} or POST ${TTS_ENGINE_PATHS.synthesize}`);
    if (req.method !== method) throw new HttpError(405, `${path} takes ${method}`);
    if (method === "GET") sendJson(res, 200, health);
    else await synthesize(req, res);
  }

  return createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) process.stderr.write(`synthesis failed: ${message}\n`);
      if (res.headersSent || res.destroyed) return;
      // The rest of an oversized or rejected body is not read: close the connection after answering.
      if (!req.complete) res.setHeader("connection", "close");
      sendJson(res, status, { error: { message } });
    });
  });
}
