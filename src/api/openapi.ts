import { z } from 'zod';
import { auditQuery, createInput, deleteInput, listInput } from './customization.js';
import { speechBody } from './openai.js';
import { realtimeModels, sessionFields } from './realtime.js';
import { generationBody } from './synthesis.js';

type JsonSchema = Record<string, unknown>;

/** The request schemas the routes validate with, as JSON Schema (one source for both). */
function schemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const errorBody: JsonSchema = {
  type: 'object',
  properties: { code: { type: 'string', examples: ['InvalidParameter', 'Throttling', 'Audio.PreprocessError'] }, message: { type: 'string' }, request_id: { type: 'string' } },
  required: ['code', 'message', 'request_id'],
};

const errors = {
  '400': { description: 'invalid request', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '401': { description: 'missing or invalid API key', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '429': { description: 'rate limit or full queue (Throttling)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
};

function jsonBody(schema: JsonSchema) {
  return { required: true, content: { 'application/json': { schema } } };
}

/** The OpenAPI 3.1 document served at /openapi.json. */
export function openApiDocument(version: string): JsonSchema {
  const envelope = (input: z.ZodType) => ({
    type: 'object',
    properties: { model: { const: 'qwen-voice-enrollment' }, input: schemaOf(input) },
    required: ['model', 'input'],
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Timbre',
      version,
      description: 'Self-hosted voice cloning. Speaks the DashScope voice-enrollment and qwen3-tts-vc protocols, plus an OpenAI-compatible speech endpoint.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key: sk-timbre-…' } },
      schemas: { Error: errorBody },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/services/audio/tts/customization': {
        post: {
          summary: 'Create, list or delete cloned voices (qwen-voice-enrollment)',
          requestBody: jsonBody({ oneOf: [envelope(createInput), envelope(listInput), envelope(deleteInput)] }),
          responses: { '200': { description: 'the action\'s output, usage and request_id' }, ...errors },
        },
      },
      '/api/v1/services/aigc/multimodal-generation/generation': {
        post: {
          summary: 'Speak text in a cloned voice: a WAV link, or with X-DashScope-SSE: enable, base64 PCM events',
          parameters: [{ name: 'X-DashScope-SSE', in: 'header', required: false, schema: { enum: ['enable'] } }],
          requestBody: jsonBody(schemaOf(generationBody)),
          responses: {
            '200': { description: 'output.audio.url (expires after 24 h), or an SSE stream', content: { 'application/json': {}, 'text/event-stream': {} } },
            ...errors,
          },
        },
      },
      '/api-ws/v1/realtime': {
        get: {
          summary: 'Realtime WebSocket (upgrade). Client events: session.update, input_text_buffer.append/commit/clear, response.cancel, session.finish',
          parameters: [{ name: 'model', in: 'query', required: true, schema: { enum: [...realtimeModels] } }],
          responses: { '101': { description: 'switching protocols' }, ...errors },
          'x-session-update': schemaOf(sessionFields),
        },
      },
      '/v1/audio/speech': {
        post: {
          summary: 'OpenAI-compatible speech; voice is a cloned voice name, model its target_model',
          requestBody: jsonBody(schemaOf(speechBody)),
          responses: { '200': { description: 'encoded audio, or SSE (speech.audio.delta / speech.audio.done)' }, ...errors },
        },
      },
      '/api/v1/voices/audit': {
        get: {
          summary: 'The account\'s audit trail: voices created, deleted and expired, by whom, with their consent (kept after deletion, without audio)',
          parameters: [{ name: 'limit', in: 'query', required: false, schema: schemaOf(auditQuery.shape.limit) }],
          responses: { '200': { description: 'output.entries: [{voice, event, actor, gmt_event, consent}]' }, ...errors },
        },
      },
      '/api/v1/voices/consent-policy': {
        get: {
          summary: 'What consent a create needs on this server (none, any, spoken), whether spoken consent is verified here, and the sentence the studio asks a speaker to read',
          responses: { '200': { description: 'output: {required, spoken_verification, suggested_statement}' }, ...errors },
        },
      },
      '/api/v1/voices/{voice}/reference': {
        get: {
          summary: 'The reference speech a voice was made from (trimmed, normalised)',
          parameters: [{ name: 'voice', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'audio/wav' }, ...errors },
        },
      },
      '/v1/audio/voices': { get: { summary: 'The caller\'s voices', responses: { '200': { description: '{object: "list", data: [...]}' }, ...errors } } },
      '/api/v1/audio/{file}': {
        get: {
          summary: 'Generated audio behind a signed, expiring link (no key needed)',
          security: [],
          parameters: [
            { name: 'file', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'expires', in: 'query', required: true, schema: { type: 'integer' } },
            { name: 'signature', in: 'query', required: true, schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'audio/wav' }, '403': { description: 'expired or forged link' } },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: '{status: "ok"}' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
