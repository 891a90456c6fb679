import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVoice, postJson, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

describe('operations: /openapi.json, /healthz, /metrics', () => {
  it('serves an OpenAPI 3.1 document built from the request schemas, without a key', async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    assert.equal(response.status, 200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    assert.match(document.openapi, /^3\.1/);
    for (const path of ['/api/v1/services/audio/tts/customization', '/api/v1/services/aigc/multimodal-generation/generation', '/api-ws/v1/realtime', '/v1/audio/speech', '/v1/audio/voices', '/api/v1/voices/audit']) {
      assert.ok(document.paths[path], path);
    }
    // The same zod schema that validates create: its fields, enums and limits.
    const create = document.paths['/api/v1/services/audio/tts/customization']!.post.requestBody.content['application/json'].schema.oneOf[0];
    const input = create.properties.input;
    assert.deepEqual(input.properties.target_model.enum, ['qwen3-tts-vc-realtime-2026-01-15', 'qwen3-tts-vc-realtime-2025-11-27', 'qwen3-tts-vc-2026-01-22']);
    assert.equal(input.properties.preferred_name.pattern, '^[A-Za-z0-9_]{1,16}$');
    assert.ok(JSON.stringify(input.properties.consent).includes('attestation'));
    const speech = document.paths['/v1/audio/speech']!.post.requestBody.content['application/json'].schema;
    assert.ok(speech.properties.response_format.enum.includes('opus'));
  });

  it('answers /healthz without a key', async () => {
    const response = await fetch(`${server.url}/healthz`);
    assert.equal(response.status, 200);
  });

  it('exports request counts, latency histograms, queue depth and engine RTF', async () => {
    const voice = await createVoice(server, 'qwen3-tts-vc-2026-01-22');
    const spoken = await postJson(server, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice, input: 'Counting for the metrics.', response_format: 'wav' });
    assert.equal(spoken.status, 200);
    await spoken.arrayBuffer();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /timbre_http_requests_total\{method="POST",route="\/api\/v1\/services\/audio\/tts\/customization",status="200"\} 1/);
    assert.match(text, /timbre_http_request_duration_seconds_bucket\{le="[\d.]+",method="POST",route="\/v1\/audio\/speech"/);
    assert.match(text, /timbre_engine_queue_jobs\{[^}]*\} \d+/);
    assert.match(text, /timbre_synthesis_rtf_count\{engine="preview"\} 1/);
    assert.match(text, /timbre_synthesis_first_chunk_seconds_count\{engine="preview"\} 1/);
    assert.match(text, /timbre_synthesis_characters_total\{engine="preview"\} 25/);
    assert.match(text, /process_resident_memory_bytes \d+/);
  });
});
