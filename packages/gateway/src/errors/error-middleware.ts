import type { ErrorRequestHandler, RequestHandler } from "express";
import { notFound, type ErrorResponder } from "@omnigate/server-kit/respond";

/** The app's last middleware: every error goes out through the gateway's one error responder. */
export function errorMiddleware(respond: ErrorResponder): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => respond(res, err);
}

/** The last route: unknown paths get an OpenAI-shaped 404. */
export function notFoundHandler(respond: ErrorResponder): RequestHandler {
  return (req, res) => respond(res, notFound(req.method, req.path, "See the README for the HTTP API."));
}
