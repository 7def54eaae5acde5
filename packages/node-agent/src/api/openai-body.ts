import type { IncomingMessage, ServerResponse } from "node:http";
import express from "express";
import multer from "multer";
import { ApiError } from "@omnigate/shared/errors";
import { payloadTooLarge } from "@omnigate/server-kit/body-errors";
import type { UploadedFile } from "../engines/types.js";

export interface BodyLimits {
  /** Largest multipart file. */
  readonly maxUploadBytes: number;
  /** Largest JSON body. */
  readonly maxBodyBytes: number;
}

const MIB = 1024 * 1024;

/** The request's raw JSON bytes, kept so a valid body is forwarded to the engine as is. */
const RAW = Symbol("omnigate.rawBody");

/**
 * What the data plane reads from a request: Node's own request plus what the body parsers leave on
 * it (`body`, multer's `files`): the listener's plain request, no Express decoration.
 */
export type ApiRequest = IncomingMessage & { body?: unknown; files?: unknown };
type WithRaw = ApiRequest & { [RAW]?: Buffer };

/** A body parser on Node's own request/response (body-parser and multer need no Express). */
export type BodyParser = (req: ApiRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

export function rawBody(req: ApiRequest): Buffer | undefined {
  return (req as WithRaw)[RAW];
}

/** JSON, bounded; a body that says it is something else is refused (415), as the gateway does. */
export function jsonParser(limits: BodyLimits): BodyParser {
  const parse = express.json({
    limit: limits.maxBodyBytes,
    type: ["application/json", "application/*+json"],
    verify: (req, _res, buf) => {
      (req as WithRaw)[RAW] = buf;
    },
  }) as unknown as BodyParser;
  return (req, res, next) => {
    // body-parser would read all of a body over the limit before it refuses it: refuse it at once
    // and let the answer drop the rest, bounded.
    if (Number(req.headers["content-length"]) > limits.maxBodyBytes) {
      next(payloadTooLarge("JSON body", limits.maxBodyBytes, { who: "this node" }, "OMNIGATE_MAX_BODY_BYTES"));
      return;
    }
    const type = req.headers["content-type"];
    if (type !== undefined && !/json/i.test(type)) {
      next(new ApiError("unsupported_media_type", `This endpoint takes a JSON body, not '${type.slice(0, 100)}'. Send Content-Type: application/json.`));
      return;
    }
    parse(req, res, next);
  };
}

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
