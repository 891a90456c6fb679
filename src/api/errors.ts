import type { FastifyError, FastifyInstance } from 'fastify';
import { AudioRejected, ConsentRequired, TranscriptRequired, EngineBusy, InvalidField, LinkRejected, ModelMismatch, QuotaExceeded, RateLimited, TimbreError, TooLarge, Unauthenticated, UrlRejected, VoiceNotFound, VoicePreparing } from '../errors.js';

/** An error that exists only on the wire (an envelope field, a route); carries its own code. */
export class WireError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface WireForm {
  code: string;
  status: number;
  message?: (error: Error) => string;
}

/** Domain error class -> DashScope code and HTTP status. The only such table. */
const domainTable: [new (...args: never[]) => TimbreError, WireForm][] = [
  [InvalidField, { code: 'InvalidParameter', status: 400 }],
  [ConsentRequired, { code: 'InvalidParameter', status: 400 }],
  [TranscriptRequired, { code: 'InvalidParameter', status: 400 }],
  [AudioRejected, { code: 'Audio.PreprocessError', status: 400, message: (error) => `audio rejected: ${error.message}` }],
  [UrlRejected, { code: 'InvalidURL', status: 400 }],
  [TooLarge, { code: 'BadRequest.TooLarge', status: 413 }],
  // 403, not 429: a full quota does not clear by waiting, and clients retry 429s.
  [QuotaExceeded, { code: 'AccessDenied', status: 403 }],
  // The spec's error list has no 404; the message does not tell "absent" from "not yours".
  [VoiceNotFound, { code: 'InvalidParameter', status: 400 }],
  [Unauthenticated, { code: 'InvalidApiKey', status: 401 }],
  [EngineBusy, { code: 'Throttling', status: 429 }],
  [RateLimited, { code: 'Throttling', status: 429 }],
  [VoicePreparing, { code: 'Throttling', status: 429 }],
  [ModelMismatch, { code: 'InvalidParameter', status: 400 }],
  [LinkRejected, { code: 'AccessDenied', status: 403 }],
];

/** Fastify's own request errors -> DashScope. */
const fastifyTable: Record<string, WireForm> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'BadRequest.TooLarge', status: 413, message: () => 'the request body is larger than the 10 MB audio limit allows' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'InvalidParameter', status: 400, message: () => 'Content-Type must be application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'BadRequest.EmptyInput', status: 400, message: () => 'the request body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'InvalidParameter', status: 400, message: () => 'the request body is not valid JSON' },
};

export interface WireErrorBody {
  code: string;
  message: string;
  request_id: string;
}

export function toWire(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof WireError) return { status: error.status, code: error.code, message: error.message };
  for (const [type, form] of domainTable) {
    if (error instanceof type) return { status: form.status, code: form.code, message: form.message?.(error) ?? error.message };
  }
  const fastifyError = error as Partial<FastifyError>;
  const form = fastifyError.code ? fastifyTable[fastifyError.code] : undefined;
  if (form) return { status: form.status, code: form.code, message: form.message?.(error as Error) ?? String(fastifyError.message) };
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500)) {
    return { status: 400, code: 'InvalidParameter', message: String(fastifyError.message) };
  }
  return { status: 500, code: 'InternalError', message: 'an internal error occurred; the request id identifies it in the server log' };
}

/** Installs the one error handler and the not-found handler. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const wire = toWire(error);
    if (wire.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: wire.code, reason: wire.message }, 'request refused');
    const body: WireErrorBody = { code: wire.code, message: wire.message, request_id: request.id };
    if (error instanceof RateLimited || error instanceof VoicePreparing) reply.header('retry-after', String(error.retryAfterSeconds));
    // OpenAI's SDKs read `error.message`; DashScope's read the top-level fields. /v1/ answers both.
    if (request.url.startsWith('/v1/')) {
      return reply.status(wire.status).send({ error: { message: wire.message, type: wire.status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: wire.code }, ...body });
    }
    return reply.status(wire.status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: WireErrorBody = { code: 'NotFound', message: `no such endpoint: ${request.method} ${request.url.split('?')[0]}`, request_id: request.id };
    return reply.status(404).send(body);
  });
}
