import type { IncomingMessage, ServerResponse } from "node:http";
import type { Writable } from "node:stream";
import type { Request } from "express";
import multer, { type Options as MulterOptions, type StorageEngine } from "multer";
import { formFields, missingFilePart, validBody, type JsonEndpoint, type MultipartEndpoint } from "@omnigate/shared/endpoints";
import { ApiError } from "@omnigate/shared/errors";
import { parseBody } from "@omnigate/shared/validation";
import { multipartError } from "@omnigate/server-kit/body-errors";
import { readJsonObject } from "@omnigate/server-kit/json-body";
import { readBody, type BodyAccount } from "@omnigate/server-kit/read-body";

/** What the data plane needs from a request: where to route it, and the bytes to forward untouched. */
export interface ParsedRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly body: Buffer;
  /** Sent upstream as is: for multipart it carries the boundary of `body`. */
  readonly contentType: string;
}

export interface BodyLimits {
  readonly maxBodyBytes: number;
  readonly maxUploadBytes: number;
}

const JSON_CONTENT_TYPE = "application/json";

const WHO = "the gateway";

/**
 * A JSON body: read whole (bounded), parsed once to read `model` and `stream` and checked against
 * the shared schema (validBody: the usual shape the quick way); the original bytes are what gets
 * forwarded, never a re-serialisation.
 */
export async function parseJsonRequest(req: IncomingMessage, spec: JsonEndpoint, limits: BodyLimits, account?: BodyAccount): Promise<ParsedRequest> {
  const bound = { limit: limits.maxBodyBytes, what: "request body", variable: "OMNIGATE_MAX_BODY_BYTES", who: WHO };
  const { value, bytes } = await readJsonObject(req, spec.path, bound, account);
  const parsed = validBody(spec, value);
  return { model: parsed.model, stream: parsed.stream === true, body: bytes, contentType: JSON_CONTENT_TYPE };
}

/**
 * multer drives busboy over the buffered body: it checks the structure (boundary, part headers, a
 * truncated body) and enforces per-field and per-file limits; the files themselves are counted and
 * dropped here because the raw body already holds them and is forwarded unchanged.
 */
const discardStorage: StorageEngine = {
  _handleFile(_req, file, cb) {
    let size = 0;
    file.stream.on("data", (chunk: Buffer) => (size += chunk.length));
    file.stream.on("error", cb);
    file.stream.on("end", () => cb(null, { size }));
  },
  _removeFile(_req, _file, cb) {
    cb(null);
  },
};

/** multer 2.5 option (not in @types/multer yet): feed busboy from a buffer instead of piping the request. */
type BufferedMulterOptions = MulterOptions & { streamHandler: (req: Request, busboy: Writable) => void };

/** What multer leaves on a plain Node request (it needs no Express). */
type UploadRequest = IncomingMessage & { rawBody?: Buffer; body?: unknown; files?: unknown };
type UploadParser = (req: UploadRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

const FIELD_LIMITS = {
  // Text fields: a 32 000-character prompt in 4-byte UTF-8 fits.
  fieldSize: 160 * 1024,
  fieldNameSize: 128,
  fields: 64,
  // Image edits take up to 16 images.
  files: 16,
  parts: 96,
  headerPairs: 32,
};

const uploads = new Map<number, UploadParser>();

function uploadParser(maxUploadBytes: number) {
  let parser = uploads.get(maxUploadBytes);
  if (!parser) {
    const options: BufferedMulterOptions = {
      storage: discardStorage,
      limits: { ...FIELD_LIMITS, fileSize: maxUploadBytes },
      streamHandler: (req, busboy) => busboy.end((req as UploadRequest).rawBody),
    };
    // multer reads only Node's request API (headers, events, pipe) and sets body/files on it.
    parser = multer(options).any() as unknown as UploadParser;
    uploads.set(maxUploadBytes, parser);
  }
  return parser;
}

/**
 * A multipart body: read whole (bounded by OMNIGATE_MAX_UPLOAD_BYTES), checked by multer, its text
 * fields validated with the shared schema and the file part required; the raw bytes are forwarded.
 */
export async function parseMultipartRequest(
  req: UploadRequest,
  res: ServerResponse,
  spec: MultipartEndpoint,
  limits: BodyLimits,
  account?: BodyAccount,
): Promise<ParsedRequest> {
  const type = req.headers["content-type"] ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    throw new ApiError(
      "unsupported_media_type",
      `${spec.path} takes multipart/form-data (a file upload), not '${type.slice(0, 100) || "no Content-Type"}'. Send the file with an OpenAI SDK or curl -F file=@audio.wav.`,
    );
  }
  const body = await readBody(req, { limit: limits.maxUploadBytes, what: "upload", variable: "OMNIGATE_MAX_UPLOAD_BYTES", who: WHO }, account);
  req.rawBody = body;
  await new Promise<void>((resolve, reject) => {
    uploadParser(limits.maxUploadBytes)(req, res, (err?: unknown) =>
      err ? reject(multipartError(err, { who: WHO, maxUploadBytes: limits.maxUploadBytes })) : resolve(),
    );
  });
  const files = (req.files ?? []) as Express.Multer.File[];
  if (!files.some((f) => spec.file.fields.includes(f.fieldname))) {
    const { message, param } = missingFilePart(spec);
    throw new ApiError("invalid_multipart", message, param);
  }
  const parsed = parseBody(spec.schema, formFields(req.body));
  return { model: parsed.model, stream: parsed.stream === true, body, contentType: type };
}
