import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBody, dataUrl, ManualClock, startTestServer, type TestServer } from './helpers.js';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

const dayMs = 24 * 60 * 60 * 1000;
const reference = dataUrl('human-en.wav');
const consent = { method: 'spoken', statement: 'I, Ada Lovelace, agree that Timbre may clone my voice.', given_by: 'Ada Lovelace' };

async function started(env: Record<string, string> = {}, clock?: ManualClock): Promise<TestServer> {
  const server = await startTestServer(env, clock);
  servers.push(server);
  return server;
}

async function audit(server: TestServer, key = server.key): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${server.url}/api/v1/voices/audit`, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('consent: recorded with the voice, required where the operator says so', () => {
  it('stores the consent with the time and returns it in list', async () => {
    const clock = new ManualClock();
    const server = await started({}, clock);
    const created = await server.enroll(createBody({ consent }, reference));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
    assert.deepEqual(listed.body.output.voice_list[0].consent, { ...consent, gmt_recorded: '2026-01-15 12:00:00' });
    const record = await server.running.repository.findVoice((await server.running.keys.authenticate(server.key))!.id, created.body.output.voice);
    assert.equal(JSON.parse(record!.consent!).accountId, record!.accountId, 'the account is stored with it');
  });

  it('lists consent null for a voice made without it, when consent is optional (the default)', async () => {
    const server = await started();
    assert.equal((await server.enroll(createBody({}, reference))).status, 200);
    const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
    assert.equal(listed.body.output.voice_list[0].consent, null);
  });

  it('refuses a malformed consent, naming the field', async () => {
    const server = await started();
    const cases: [unknown, RegExp][] = [
      [{ method: 'nod', statement: 'yes' }, /input\.consent\.method must be one of checkbox, spoken, attestation/],
      [{ method: 'checkbox', statement: '   ' }, /input\.consent\.statement is empty/],
      [{ method: 'checkbox' }, /input\.consent\.statement/],
      ['yes', /input\.consent must be an object with method and statement/],
    ];
    for (const [value, message] of cases) {
      const refused = await server.enroll(createBody({ consent: value }, reference));
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'InvalidParameter');
      assert.match(refused.body.message, message);
    }
  });

  it('with TIMBRE_REQUIRE_CONSENT=true, refuses a create without consent and accepts one with it', async () => {
    const server = await started({ TIMBRE_REQUIRE_CONSENT: 'true' });
    const refused = await server.enroll(createBody({}, reference));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'InvalidParameter');
    assert.match(refused.body.message, /requires the speaker's consent with every voice: send input\.consent/);
    assert.equal((await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } })).body.output.total_count, 0);
    const accepted = await server.enroll(createBody({ consent: { method: 'attestation', statement: 'The operator holds a signed release.' } }, reference));
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  });
});

describe('audit: who created, deleted or expired which voice, kept without audio', () => {
  it('keeps created and deleted entries after the voice and its files are gone', async () => {
    const clock = new ManualClock();
    const server = await started({}, clock);
    const voice = (await server.enroll(createBody({ preferred_name: 'ada', consent }, reference))).body.output.voice as string;
    clock.advance(60_000);
    assert.equal((await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice } })).status, 200);
    assert.equal(existsSync(join(server.dataDir, 'blobs', voice)), false, 'no audio is kept');

    const { status, body } = await audit(server);
    assert.equal(status, 200);
    assert.match(body.request_id, /^[0-9a-f-]{36}$/);
    const keyPrefix = server.key.slice(0, 16);
    assert.deepEqual(body.output.entries, [
      { voice, event: 'deleted', actor: `key ${keyPrefix}…`, gmt_event: '2026-01-15 12:01:00', consent: { ...consent, gmt_recorded: '2026-01-15 12:00:00' } },
      { voice, event: 'created', actor: `key ${keyPrefix}…`, gmt_event: '2026-01-15 12:00:00', consent: { ...consent, gmt_recorded: '2026-01-15 12:00:00' } },
    ]);
  });

  it('records expiries by the retention job, shows each account only its own entries, and validates limit', async () => {
    const clock = new ManualClock();
    const server = await started({ TIMBRE_RETENTION_DAYS: '30' }, clock);
    const voice = (await server.enroll(createBody({ preferred_name: 'old' }, reference))).body.output.voice as string;
    clock.advance(31 * dayMs);
    assert.equal(await server.running.retention.runOnce(), 1);
    const entries = (await audit(server)).body.output.entries as { voice: string; event: string; actor: string }[];
    assert.deepEqual(entries.map((entry) => [entry.voice, entry.event, entry.actor]), [
      [voice, 'expired', 'retention'],
      [voice, 'created', `key ${server.key.slice(0, 16)}…`],
    ]);

    const other = await server.running.keys.issue('someone-else');
    assert.deepEqual((await audit(server, other.key)).body.output.entries, []);

    const response = await fetch(`${server.url}/api/v1/voices/audit?limit=0`, { headers: { authorization: `Bearer ${server.key}` } });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /limit must be at least 1/);
    const unauthenticated = await fetch(`${server.url}/api/v1/voices/audit`);
    assert.equal(unauthenticated.status, 401);
  });
});
