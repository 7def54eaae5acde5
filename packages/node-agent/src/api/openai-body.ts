import type { IncomingMessage, ServerResponse } from "node:http";
import multer from "multer";
import { ApiError } from "@omnigate/shared/errors";
import type { UploadedFile } from "../engines/types.js";

export interface BodyLimits {
  /** Largest multipart file. */
  readonly maxUploadBytes: number;
  /** Largest JSON body. */
  readonly maxBodyBytes: number;
}

const MIB = 1024 * 1024;

/**
 * What the data plane reads from a multipart request: Node's own request plus what multer leaves on
 * it (`body`, `files`): the listener's plain request, no Express decoration.
 */
export type ApiRequest = IncomingMessage & { body?: unknown; files?: unknown };

/** A body parser on Node's own request/response (multer needs no Express). */
export type BodyParser = (req: ApiRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/** `req.is("multipart/form-data")` without Express: a body, and that media type. */
function isMultipart(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || !Number.isNaN(Number.parseInt(req.headers["content-length"] ?? "", 10));
  return hasBody && type !== undefined && /^\s*multipart\/form-data\s*(;|$)/i.test(type);
}

/** Multipart in memory, bounded: file size, file count, field count and field size. */
export function multipartParser(limits: BodyLimits): BodyParser {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limits.maxUploadBytes, files: 17, fields: 64, fieldSize: MIB, parts: 128 },
  }).any() as unknown as BodyParser;
  return (req, res, next) => {
    if (!isMultipart(req)) {
      next(new ApiError("unsupported_media_type", "Send this request as multipart/form-data (a 'file' or 'image' part plus the fields)."));
      return;
    }
    upload(req, res, next);
  };
}

export function uploadedFiles(req: ApiRequest): UploadedFile[] {
  return Array.isArray(req.files) ? (req.files as UploadedFile[]) : [];
}
