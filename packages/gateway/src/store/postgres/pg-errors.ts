/** Errors that mean "the database cannot be reached now", not "this write is wrong". */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  // PostgreSQL's own: shutting down, starting up, connection failures.
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

const UNREACHABLE_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Connection ended|not queryable/i;

export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown[] } | null;
  if (!e) return false;
  if (typeof e.code === "string" && UNREACHABLE_CODES.has(e.code)) return true;
  // Node's happy-eyeballs connect reports an AggregateError of each address's failure.
  if (Array.isArray(e.errors) && e.errors.some(isUnreachable)) return true;
  return typeof e.message === "string" && UNREACHABLE_MESSAGES.test(e.message);
}

/** A short reason for logs and 503s: the code and the driver's message, never the URL. */
export function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; errors?: Array<{ code?: unknown; message?: unknown }> } | null;
  const first = Array.isArray(e?.errors) && e.errors.length > 0 ? e.errors[0] : e;
  const code = typeof first?.code === "string" ? first.code : undefined;
  const message = typeof first?.message === "string" && first.message ? first.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
