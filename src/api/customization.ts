import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidField } from '../errors.js';
import type { VoiceService } from '../voices/enrollment.js';
import { gmtTimestamp } from '../voices/naming.js';
import { consentMethods, enrollmentModel, suggestedConsentStatement, languages, pageLimits, preferredNamePattern, targetModels, type ConsentRecord } from '../voices/rules.js';
import { accountOf, actorOf } from './auth.js';
import { WireError } from './errors.js';
import { isObject, parseFields, rule } from './validation.js';


const pageNumber = (fallback: number) =>
  z
    .number(rule(`must be an integer from ${pageLimits.min} to ${pageLimits.max}`))
    .int(`must be an integer from ${pageLimits.min} to ${pageLimits.max}`)
    .min(pageLimits.min, `must be at least ${pageLimits.min}`)
    .max(pageLimits.max, `must be at most ${pageLimits.max}`)
    .default(fallback);

export const createInput = z.object({
  action: z.literal('create'),
  target_model: z.enum(targetModels, rule(`must be one of ${targetModels.join(', ')}`)),
  preferred_name: z.string(rule('must be a string')).regex(preferredNamePattern, 'must be 1-16 characters, each a letter, digit or underscore'),
  audio: z.object({ data: z.string(rule('must be a string: a data URL or an http(s) URL')).min(1, 'is empty') }, rule('must be an object with a data field')),
  text: z.string(rule('must be a string')).max(2000, 'must be at most 2000 characters').nullish(),
  language: z.enum(languages, rule(`must be one of ${languages.join(', ')}`)).nullish(),
  /** Timbre's addition: the speaker's consent, kept with the voice. */
  consent: z
    .object(
      {
        method: z.enum(consentMethods, rule(`must be one of ${consentMethods.join(', ')}`)),
        statement: z.string(rule('must be a string')).trim().min(1, 'is empty').max(2000, 'must be at most 2000 characters'),
        given_by: z.string(rule('must be a string')).max(200, 'must be at most 200 characters').nullish(),
        /** Spoken consent: the speaker saying the statement (data URL or URL, as audio.data). */
        audio: z.string(rule('must be a string: a data URL or an http(s) URL')).min(1, 'is empty').nullish(),
      },
      rule('must be an object with method and statement'),
    )
    .refine((consent) => !consent.audio || consent.method === 'spoken', { message: 'audio goes with method "spoken"', path: ['audio'] })
    .nullish(),
});

export const listInput = z.object({
  action: z.literal('list'),
  page_index: pageNumber(pageLimits.defaultIndex),
  page_size: pageNumber(pageLimits.defaultSize),
});

export const deleteInput = z.object({
  action: z.literal('delete'),
  voice: z.string(rule('must be a string')).min(1, 'is empty'),
});

const actions = { create: createInput, list: listInput, delete: deleteInput } as const;
type Action = keyof typeof actions;


/** Checks the envelope in the order a client's mistake is most usefully reported. */
function readEnvelope(body: unknown): { action: Action; input: Record<string, unknown> } {
  if (!isObject(body)) throw new InvalidField('body', 'must be a JSON object');
  const { model, input } = body;
  if (model === undefined || model === null || model === '') {
    throw new WireError('BadRequest.EmptyModel', 400, `model is required: use "${enrollmentModel}"`);
  }
  if (model !== enrollmentModel) throw new InvalidField('model', `must be "${enrollmentModel}", got ${JSON.stringify(model)}`);
  if (input === undefined || input === null) throw new WireError('BadRequest.EmptyInput', 400, 'input is required');
  if (!isObject(input)) throw new InvalidField('input', 'must be an object');
  const action = input.action;
  if (action === undefined) throw new InvalidField('input.action', 'is required: create, list or delete');
  if (typeof action !== 'string' || !(action in actions)) {
    throw new InvalidField('input.action', `must be create, list or delete, got ${JSON.stringify(action)}`);
  }
  return { action: action as Action, input };
}

function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  return parseFields(schema, input, ['input']);
}

function consentOnWire(stored: string | null): Record<string, unknown> | null {
  if (!stored) return null;
  const consent = JSON.parse(stored) as ConsentRecord;
  const { verification } = consent;
  return {
    method: consent.method,
    statement: consent.statement,
    given_by: consent.givenBy,
    gmt_recorded: gmtTimestamp(consent.recordedAt),
    ...(verification
      ? {
          verification: {
            speaker_similarity: verification.speakerSimilarity,
            threshold: verification.threshold,
            statement_word_error_rate: verification.statementWordErrorRate,
            audio_sha256: verification.audioSha256,
          },
        }
      : {}),
  };
}

export const auditQuery = z.object({ limit: z.coerce.number(rule('must be a number')).int('must be an integer').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100) });

export interface CustomizationOptions {
  voices: VoiceService;
}

/** POST /api/v1/services/audio/tts/customization: create, list and delete voices. */
export async function customizationRoutes(app: FastifyInstance, options: CustomizationOptions): Promise<void> {
  const { voices } = options;
  app.post('/api/v1/services/audio/tts/customization', async (request) => {
    const account = accountOf(request);
    const { action, input } = readEnvelope(request.body);
    if (action === 'create') {
      const fields = parseInput(createInput, input);
      const created = await voices.create(account, {
        targetModel: fields.target_model,
        preferredName: fields.preferred_name,
        audioData: fields.audio.data,
        audioField: 'input.audio.data',
        text: fields.text?.trim() || null,
        language: fields.language ?? null,
        consent: fields.consent
          ? { method: fields.consent.method, statement: fields.consent.statement, givenBy: fields.consent.given_by ?? null, audioData: fields.consent.audio ?? null }
          : null,
        actor: actorOf(request),
      });
      request.log.info({ voice: created.voice.name, speechSeconds: created.voice.speechSeconds }, 'voice created');
      return {
        output: {
          voice: created.voice.name,
          target_model: created.voice.targetModel,
          fallback_mode: created.fallbackReason !== null,
          ...(created.fallbackReason !== null ? { fallback_reason: created.fallbackReason } : {}),
          speech_seconds: Math.round(created.voice.speechSeconds * 10) / 10,
        },
        usage: { count: 1 },
        request_id: request.id,
      };
    }
    if (action === 'list') {
      const fields = parseInput(listInput, input);
      const page = await voices.list(account, fields.page_index, fields.page_size);
      return {
        output: {
          voice_list: page.voices.map((voice) => ({
            voice: voice.name,
            gmt_create: gmtTimestamp(voice.createdAt),
            gmt_modified: gmtTimestamp(voice.modifiedAt),
            target_model: voice.targetModel,
            language: voice.language,
            consent: consentOnWire(voice.consent),
          })),
          page_index: fields.page_index,
          page_size: fields.page_size,
          total_count: page.totalCount,
        },
        usage: { count: 0 },
        request_id: request.id,
      };
    }
    const fields = parseInput(deleteInput, input);
    await voices.delete(account, fields.voice, actorOf(request));
    return { usage: { count: 0 }, request_id: request.id };
  });

  // Timbre's addition: the account's audit trail. Entries outlive their voices and hold no audio.
  app.get<{ Querystring: { limit?: string } }>('/api/v1/voices/audit', async (request) => {
    const { limit } = parseFields(auditQuery, request.query, ['query']);
    const entries = await voices.audit(accountOf(request), limit);
    return {
      output: {
        entries: entries.map((entry) => ({
          voice: entry.voice,
          event: entry.event,
          actor: entry.actor,
          gmt_event: gmtTimestamp(entry.at),
          consent: consentOnWire(entry.consent),
        })),
      },
      request_id: request.id,
    };
  });

  // Timbre's addition: what consent a create needs here, for clients such as the studio.
  app.get('/api/v1/voices/consent-policy', async (request) => {
    const policy = voices.consentPolicy();
    return {
      output: { required: policy.required, spoken_verification: policy.spokenVerification, suggested_statement: suggestedConsentStatement },
      request_id: request.id,
    };
  });

  // Timbre's addition: the reference a voice was made from, so a person can hear it.
  app.get<{ Params: { voice: string } }>('/api/v1/voices/:voice/reference', async (request, reply) => {
    const wav = await voices.referenceAudio(accountOf(request), request.params.voice);
    return reply.type('audio/wav').send(wav);
  });
}
