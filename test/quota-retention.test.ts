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

describe('quota: at most N voices per account, enforced atomically', () => {
  it('refuses the create beyond the quota with a clear error, also under concurrency', async () => {
    const server = await startTestServer({ TIMBRE_VOICE_QUOTA: '3' });
    servers.push(server);
    const results = await Promise.all(Array.from({ length: 7 }, (_, index) => server.enroll(createBody({ preferred_name: `q${index}` }, reference))));
    const accepted = results.filter((result) => result.status === 200);
    const refused = results.filter((result) => result.status !== 200);
    assert.equal(accepted.length, 3, JSON.stringify(results.map((result) => result.body)));
    for (const result of refused) {
      assert.equal(result.status, 403);
      assert.equal(result.body.code, 'AccessDenied');
      assert.match(result.body.message, /voice quota reached: the account holds 3 of 3 voices/);
    }
    const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
    assert.equal(listed.body.output.total_count, 3);
    // Refused creates leave no files behind.
    const { readdirSync } = await import('node:fs');
    assert.equal(readdirSync(join(server.dataDir, 'blobs')).length, 3);
    assert.equal(readdirSync(join(server.dataDir, 'tmp')).length, 0);

    // The quota is per account, and deleting frees a place.
    const other = await server.running.keys.issue('second');
    assert.equal((await server.enroll(createBody({}, reference), other.key)).status, 200);
    await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: accepted[0]!.body.output.voice } });
    assert.equal((await server.enroll(createBody({}, reference))).status, 200);
  });

  it('keeps a usage ledger: every create counts 1', async () => {
    const server = await startTestServer();
    servers.push(server);
    await server.enroll(createBody({}, reference));
    await server.enroll(createBody({}, reference));
    await server.enroll(createBody({}, dataUrl('silence.wav')));
    const account = (await server.running.keys.authenticate(server.key))!;
    assert.equal(await server.running.repository.usageTotal(account.id, 'voice.create'), 2);
  });
});

describe('retention: voices unused for over a year are deleted', () => {
  it('deletes voices past the age, keeps used ones, removes their files', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ TIMBRE_RETENTION_DAYS: '365', TIMBRE_RETENTION_INTERVAL_SECONDS: '3600' }, clock);
    servers.push(server);
    const old = (await server.enroll(createBody({ preferred_name: 'old' }, reference))).body.output.voice as string;
    clock.advance(200 * dayMs);
    const younger = (await server.enroll(createBody({ preferred_name: 'young' }, reference))).body.output.voice as string;
    const account = (await server.running.keys.authenticate(server.key))!;
    const oldRecord = (await server.running.repository.findVoice(account.id, old))!;

    clock.advance(165 * dayMs - 1000);
    assert.equal(await server.running.retention.runOnce(), 0, 'a voice exactly one year old minus a second is kept');

    clock.advance(2000);
    assert.equal(await server.running.retention.runOnce(), 1);
    const names = (await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } })).body.output.voice_list.map((voice: { voice: string }) => voice.voice);
    assert.deepEqual(names, [younger]);
    assert.ok(!existsSync(join(server.dataDir, 'blobs', oldRecord.referenceBlob)));

    // Use (as synthesis does) resets the clock for a voice.
    clock.advance(300 * dayMs);
    await server.running.repository.touchVoice(younger, clock.now());
    clock.advance(100 * dayMs);
    assert.equal(await server.running.retention.runOnce(), 0);
    clock.advance(266 * dayMs);
    assert.equal(await server.running.retention.runOnce(), 1);
  });

  it('runs on start and then periodically', async () => {
    const clock = new ManualClock();
    const first = await startTestServer({ TIMBRE_RETENTION_DAYS: '1' }, clock);
    await first.enroll(createBody({}, reference));
    await first.running.close();
    clock.advance(2 * dayMs);
    // A new server on the same data dir sweeps at start.
    const { loadConfig } = await import('../src/config.js');
    const { startTimbre } = await import('../src/app.js');
    const { pino } = await import('pino');
    const restarted = await startTimbre(loadConfig({ TIMBRE_DATA_DIR: first.dataDir, PORT: '0', TIMBRE_RETENTION_DAYS: '1', TIMBRE_RETENTION_INTERVAL_SECONDS: '1' }), { clock, logger: pino({ level: 'silent' }) });
    try {
      const account = (await restarted.keys.authenticate(first.key))!;
      assert.equal(await restarted.repository.countVoices(account.id), 0);
      // And the timer: a voice created now, aged past the limit, goes within a few periods.
      const response = await fetch(`${restarted.url}/api/v1/services/audio/tts/customization`, {
        method: 'POST',
        headers: { authorization: `Bearer ${first.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(createBody({}, reference)),
      });
      assert.equal(response.status, 200);
      clock.advance(2 * dayMs);
      const deadline = Date.now() + 10_000;
      while ((await restarted.repository.countVoices(account.id)) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await restarted.repository.countVoices(account.id), 0);
    } finally {
      await restarted.close();
      const { rmSync } = await import('node:fs');
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
