// The API's error body, `{"error": {"code", "message", "details"}}`, as an exception the screens can show.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Never `[object Object]` or a stack: the API's message, or a plain sentence. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message || `Request failed (${err.status})`;
  if (err instanceof TypeError) return "Could not reach Lightbox. Check your connection and try again.";
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong. Please try again.";
}

export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.clone().json();
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get("Retry-After"));
  const e = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
  return new ApiError(
    response.status,
    e?.code ?? "http_error",
    e?.message ?? `Request failed (${response.status})`,
    e?.details ?? {},
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}
