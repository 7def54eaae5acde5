import { z } from "zod";
import { ApiError } from "./errors.js";

// Control characters (C0, DEL, C1): never valid in a name, path or id anywhere in omnigate.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A Hugging Face repo id, `org/name`: letters, digits, `-`, `_`, `.`; no `--` or `..`; each part
 * starts and ends with a letter or digit (huggingface_hub `validate_repo_id`).
 */
export const RepoId = z
  .string()
  .max(96 * 2 + 1, "repo id is too long (at most 96 characters per part)")
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?\/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/,
    "repo must be a Hugging Face repo id 'org/name' (letters, digits, '-', '_', '.')",
  )
  .refine((s) => !s.includes("--") && !s.includes(".."), "repo id must not contain '--' or '..'");
export type RepoId = z.infer<typeof RepoId>;

/** A branch, tag or commit. May contain `/` (`refs/pr/1`) but never escape a folder. */
export const Revision = z
  .string()
  .min(1, "revision must not be empty")
  .max(200, "revision is too long (at most 200 characters)")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "revision may contain letters, digits, '.', '_', '-' and '/'")
  .refine((s) => !s.split("/").some((p) => p === ".." || p === "." || p === ""), "revision must not contain '..' or empty segments");
export type Revision = z.infer<typeof Revision>;

/** Why a repo-relative path (or glob) is unsafe, or null when it is safe. */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return "is empty";
  if (path.length > 1024) return "is longer than 1024 characters";
  if (path.includes("\0")) return "contains a NUL byte";
  if (CONTROL.test(path)) return "contains a control character";
  if (path.includes("\\")) return "contains a backslash";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "is absolute";
  if (path.split("/").some((part) => part === ".." || part === ".")) return "contains a '.' or '..' segment";
  return null;
}

/** A path or glob inside a repo: relative, no `..`, no NUL, no backslash. */
export const RepoPath = z.string().superRefine((path, ctx) => {
  const reason = unsafePathReason(path);
  if (reason) ctx.addIssue({ code: "custom", message: `file path ${JSON.stringify(path)} ${reason}` });
});

/**
 * A model's public name. Defaults to the repo id, so `/` is allowed; nothing that needs escaping in
 * a log line or could be read as a path trick.
 */
export const ModelName = z
  .string()
  .min(1, "model name must not be empty")
  .max(256, "model name is too long (at most 256 characters)")
  .refine((s) => !CONTROL.test(s), "model name must not contain control characters")
  .refine(
    (s) => /^[A-Za-z0-9][A-Za-z0-9._:@+/-]*$/.test(s),
    "model name may contain letters, digits and '.', '_', ':', '@', '+', '/', '-' and must start with a letter or digit",
  )
  .refine((s) => !s.split("/").some((p) => p === "" || p === ".."), "model name must not contain '..' or empty '/' segments");
export type ModelName = z.infer<typeof ModelName>;

/** A node label's key (OMNIGATE_NODE_LABELS, node_selector): `zone`, `gpu.vendor`, `example.com/tier`. */
export const LabelKey = z
  .string()
  .min(1, "a label key must not be empty")
  .max(63, "a label key is at most 63 characters")
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$/, "a label key may contain letters, digits, '.', '_', '-', '/' and must start and end with a letter or digit");

/** A node label's value: may be empty; no spaces, commas or '='. */
export const LabelValue = z
  .string()
  .max(63, "a label value is at most 63 characters")
  .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?$/, "a label value may contain letters, digits, '.', '_', '-' and must start and end with a letter or digit");

/**
 * A zod error as one sentence naming the field, and the field as OpenAI's `param`.
 * `body.files.0: file path "../x" contains a '.' or '..' segment`.
 */
export function describeZodError(error: z.ZodError): { message: string; param: string | null } {
  const issues = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const first = error.issues[0];
  const param = first && first.path.length > 0 ? first.path.map(String).join(".") : null;
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : "";
  return { message: `Invalid request: ${issues.join("; ")}${more}`, param };
}

/** "Invalid configuration:\n  OMNIGATE_PORT: …\n  HF_ENDPOINT: …" — every bad variable named, for fail-fast config. */
export function formatEnvErrors(error: z.ZodError): string {
  const lines = error.issues.map((i) => `  ${i.path.map(String).join(".") || "(env)"}: ${i.message}`);
  return `Invalid configuration:\n${lines.join("\n")}`;
}

/**
 * A request body checked against a contract schema: the parsed value, or an `invalid_request`
 * ApiError naming the field. The one validation step of every route and both data planes.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError("invalid_request", "The request body must be a JSON object, e.g. {\"model\": \"…\", …}.");
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const { message, param } = describeZodError(parsed.error);
    throw new ApiError("invalid_request", message, param);
  }
  return parsed.data;
}
