import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { enrollmentPath, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const listBody = { model: 'qwen-voice-enrollment', input: { action: 'list' } };

describe('transport: Authorization: Bearer on every call', () => {
  it('refuses a call without a key with 401 InvalidApiKey', async () => {
    const result = await server.enroll(listBody, null);
    assert.equal(result.status, 401);
    assert.equal(result.body.code, 'InvalidApiKey');
    assert.match(result.body.message, /Authorization: Bearer/);
  });

  it('refuses an unknown key and a malformed header', async () => {
    assert.equal((await server.enroll(listBody, 'sk-timbre-unknown')).body.code, 'InvalidApiKey');
    const response = await fetch(server.url + enrollmentPath, { method: 'POST', headers: { authorization: `Basic ${server.key}`, 'content-type': 'application/json' }, body: JSON.stringify(listBody) });
    assert.equal(response.status, 401);
  });

  it('refuses a revoked key', async () => {
    const issued = await server.running.keys.issue('revokee');
    assert.equal((await server.enroll(listBody, issued.key)).status, 200);
    assert.ok(await server.running.keys.revoke(issued.id));
    const result = await server.enroll(listBody, issued.key);
    assert.equal(result.status, 401);
    assert.equal(result.body.code, 'InvalidApiKey');
  });

  it('stores keys hashed, never in plain text', async () => {
    const issued = await server.running.keys.issue('hashcheck');
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    for (const file of readdirSync(server.dataDir).filter((name) => name.startsWith('timbre.db'))) {
      assert.ok(!readFileSync(join(server.dataDir, file)).includes(issued.key), `${file} holds the key in plain text`);
    }
  });
});

describe('transport: envelope', () => {
  it('gives every response a unique request_id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i += 1) ids.add((await server.enroll(listBody)).body.request_id);
    ids.add((await server.enroll({}, null)).body.request_id);
    assert.equal(ids.size, 6);
  });

  it('requires model: BadRequest.EmptyModel', async () => {
    const result = await server.enroll({ input: { action: 'list' } });
    assert.equal(result.status, 400);
    assert.equal(result.body.code, 'BadRequest.EmptyModel');
  });

  it('fixes model to qwen-voice-enrollment', async () => {
    const result = await server.enroll({ model: 'qwen3-tts-vc-2026-01-22', input: { action: 'list' } });
    assert.equal(result.status, 400);
    assert.equal(result.body.code, 'InvalidParameter');
    assert.match(result.body.message, /^model must be "qwen-voice-enrollment", got "qwen3-tts-vc-2026-01-22"/);
  });

  it('requires input: BadRequest.EmptyInput', async () => {
    const result = await server.enroll({ model: 'qwen-voice-enrollment' });
    assert.equal(result.status, 400);
    assert.equal(result.body.code, 'BadRequest.EmptyInput');
  });

  it('refuses a missing or unknown action, naming the valid ones', async () => {
    const missing = await server.enroll({ model: 'qwen-voice-enrollment', input: {} });
    assert.equal(missing.body.code, 'InvalidParameter');
    assert.match(missing.body.message, /^input\.action is required: create, list or delete/);
    const unknown = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'rename' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /^input\.action must be create, list or delete, got "rename"/);
  });

  it('answers bad JSON, a non-object body and a wrong content type with DashScope-shaped 400s', async () => {
    for (const body of ['{bad', '[]', '"text"', '12']) {
      const result = await server.enroll(body);
      assert.equal(result.status, 400, body);
      assert.equal(typeof result.body.code, 'string');
      assert.equal(typeof result.body.request_id, 'string');
    }
    const response = await fetch(server.url + enrollmentPath, { method: 'POST', headers: { authorization: `Bearer ${server.key}`, 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /Content-Type must be application\/json/);
  });

  it('answers unknown paths with a DashScope-shaped 404, and keeps serving', async () => {
    const response = await fetch(`${server.url}/api/v1/nothing`, { headers: { authorization: `Bearer ${server.key}` } });
    assert.equal(response.status, 404);
    const body = (await response.json()) as Record<string, string>;
    assert.equal(body.code, 'NotFound');
    assert.equal(typeof body.request_id, 'string');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});
