/** An error answer from a Timbre (or DashScope) server. */
export class TimbreApiError extends Error {
  override readonly name = 'TimbreApiError';
  constructor(
    /** DashScope code, e.g. InvalidParameter, Throttling, Audio.PreprocessError. */
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

/** The server could not be reached, or answered something that is not the API. */
export class TimbreConnectionError extends Error {
  override readonly name = 'TimbreConnectionError';
}

export async function errorFrom(response: Response): Promise<TimbreApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { code?: string; message?: string; request_id?: string; error?: { code?: string; message?: string } };
    return new TimbreApiError(body.code ?? body.error?.code ?? `HTTP${response.status}`, body.message ?? body.error?.message ?? text, response.status, body.request_id ?? null);
  } catch {
    return new TimbreApiError(`HTTP${response.status}`, text.slice(0, 500) || response.statusText, response.status, null);
  }
}
