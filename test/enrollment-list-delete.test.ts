import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBody, dataUrl, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
let otherKey: string;
const created: string[] = [];
const reference = dataUrl('human-en.wav');

before(async () => {
  server = await startTestServer();
  otherKey = (await server.running.keys.issue('someone-else')).key;
  for (const [index, model] of ['qwen3-tts-vc-2026-01-22', 'qwen3-tts-vc-realtime-2025-11-27', 'qwen3-tts-vc-realtime-2026-01-15'].entries()) {
    const result = await server.enroll(createBody({ preferred_name: `v${index}`, target_model: model, language: index === 0 ? 'en' : undefined }, reference));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    created.push(result.body.output.voice);
  }
});
after(async () => {
  await server.stop();
});

const list = (input: Record<string, unknown> = {}, key?: string) => server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list', ...input } }, key);

describe('list', () => {
  it('lists newest first with gmt_create, gmt_modified, target_model, language and paging fields', async () => {
    const result = await list();
    assert.equal(result.status, 200);
    assert.deepEqual(result.body.usage, { count: 0 });
    const { voice_list: voices, page_index: pageIndex, page_size: pageSize, total_count: total } = result.body.output;
    assert.deepEqual(voices.map((voice: { voice: string }) => voice.voice), [...created].reverse());
    assert.equal(pageIndex, 0);
    assert.equal(pageSize, 10);
    assert.equal(total, 3);
    const oldest = voices[2];
    assert.match(oldest.gmt_create, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.match(oldest.gmt_modified, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.equal(oldest.target_model, 'qwen3-tts-vc-2026-01-22');
    assert.equal(oldest.language, 'en');
    assert.equal(voices[0].language, null);
  });

  it('pages with page_index and page_size', async () => {
    const first = await list({ page_index: 0, page_size: 2 });
    const second = await list({ page_index: 1, page_size: 2 });
    const beyond = await list({ page_index: 5, page_size: 2 });
    assert.deepEqual(first.body.output.voice_list.map((voice: { voice: string }) => voice.voice), [created[2], created[1]]);
    assert.deepEqual(second.body.output.voice_list.map((voice: { voice: string }) => voice.voice), [created[0]]);
    assert.deepEqual(beyond.body.output.voice_list, []);
    assert.equal(beyond.body.output.total_count, 3);
    const empty = await list({ page_size: 0 });
    assert.deepEqual(empty.body.output.voice_list, []);
    assert.equal(empty.body.output.total_count, 3);
  });

  it('keeps page_index and page_size within 0-1000000, as integers', async () => {
    assert.equal((await list({ page_index: 1_000_000, page_size: 1_000_000 })).status, 200);
    for (const input of [{ page_index: -1 }, { page_size: 1_000_001 }, { page_index: 1.5 }, { page_size: '10' }, { page_index: null }]) {
      const result = await list(input);
      assert.equal(result.status, 400, JSON.stringify(input));
      assert.equal(result.body.code, 'InvalidParameter');
      assert.match(result.body.message, /^input\.page_(index|size) /);
    }
  });

  it('shows an account only its own voices', async () => {
    const result = await list({}, otherKey);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body.output.voice_list, []);
    assert.equal(result.body.output.total_count, 0);
  });
});

describe('delete', () => {
  it('refuses another account\'s voice with the same error as a missing one', async () => {
    const foreign = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: created[0] } }, otherKey);
    const missing = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: 'qwen-tts-vc-none-voice-20250101000000000-0000' } });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.code, missing.body.code);
    assert.equal(foreign.body.message.replace(created[0]!, 'X'), missing.body.message.replace('qwen-tts-vc-none-voice-20250101000000000-0000', 'X'));
    assert.equal((await list()).body.output.total_count, 3);
  });

  it('requires voice', async () => {
    const result = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete' } });
    assert.equal(result.status, 400);
    assert.match(result.body.message, /^input\.voice is required/);
  });

  it('deletes the voice with its audio files and answers usage count 0', async () => {
    const account = (await server.running.keys.authenticate(server.key))!;
    const voice = (await server.running.repository.findVoice(account.id, created[1]!))!;
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    assert.ok(existsSync(join(server.dataDir, 'blobs', voice.referenceBlob)));
    const result = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: created[1] } });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.body.usage, { count: 0 });
    assert.equal(typeof result.body.request_id, 'string');
    assert.ok(!existsSync(join(server.dataDir, 'blobs', voice.referenceBlob)));
    assert.ok(!existsSync(join(server.dataDir, 'blobs', voice.originalBlob)));
    assert.deepEqual((await list()).body.output.voice_list.map((entry: { voice: string }) => entry.voice), [created[2], created[0]]);
    const again = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: created[1] } });
    assert.equal(again.status, 400);
  });
});
