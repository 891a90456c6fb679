import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ProvenanceService } from '../voices/provenance.js';
import { accountOf } from './auth.js';
import { WireError } from './errors.js';
import { parseFields, rule } from './validation.js';

export const detectBody = z.object({
  audio: z.object({ data: z.string(rule('must be a string: a data URL or an http(s) URL')).min(1, 'is empty') }, rule('must be an object with a data field')),
});

export interface WatermarkRouteOptions {
  /** Null when the operator turned watermarking off. */
  provenance: ProvenanceService | null;
}

/** Timbre's addition: POST /v1/watermark/detect. */
export async function watermarkRoutes(app: FastifyInstance, options: WatermarkRouteOptions): Promise<void> {
  app.post('/v1/watermark/detect', async (request) => {
    const account = accountOf(request);
    if (!options.provenance) throw new WireError('AccessDenied', 403, 'watermarking is turned off on this server (TIMBRE_WATERMARK=false), so it cannot detect marks');
    const body = parseFields(detectBody, request.body);
    const verdict = await options.provenance.detect(account, 'audio.data', body.audio.data);
    return { ...verdict, request_id: request.id };
  });
}
