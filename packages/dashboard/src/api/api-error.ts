// Kept apart from client.ts (which reads the session) so the event worker can use it too.

/** An error answer of the gateway, in its OpenAI shape: the message says what to do. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    /** The request field the error is about ("repo", "files.0"), when the API names one. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { message?: string; code?: string | null; param?: string | null };
}

/** The error a failed answer carries, in the gateway's words when it sent some. */
export async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as ErrorBody | null;
  const e = body?.error;
  return new ApiError(e?.message ?? `The gateway answered ${res.status} ${res.statusText}.`, res.status, e?.code ?? null, e?.param ?? null);
}
