import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVoice, probeAudio, startTestServer, type TestServer } from './helpers.js';
import { RealtimeClient } from './realtime-client.js';

const realtimeModel = 'qwen3-tts-vc-realtime-2026-01-15';
const responseEvents = [
  'response.created',
  'response.output_item.added',
  'response.content_part.added',
  'response.audio.delta',
  'response.audio.done',
  'response.content_part.done',
  'response.output_item.done',
  'response.done',
];

let server: TestServer;
let voice: string;
const logLines: Record<string, unknown>[] = [];

before(async () => {
  server = await startTestServer({}, undefined, logLines);
  voice = await createVoice(server, realtimeModel);
});
after(async () => {
  await server.stop();
});

async function session(update: Record<string, unknown> = {}): Promise<RealtimeClient> {
  const client = await RealtimeClient.connect(server);
  await client.waitFor('session.created');
  client.send({ event_id: 'e1', type: 'session.update', session: { voice, ...update } });
  await client.waitFor('session.updated');
  return client;
}

describe('realtime: session events', () => {
  it('opens with session.created and applies session.update', async () => {
    const client = await RealtimeClient.connect(server);
    const created = await client.waitFor('session.created');
    assert.match(created.event_id, /^event_/);
    assert.equal(created.session.object, 'realtime.session');
    assert.match(created.session.id, /^sess_/);
    assert.equal(created.session.model, realtimeModel);
    assert.equal(created.session.mode, 'server_commit');
    assert.equal(created.session.response_format, 'pcm');
    assert.equal(created.session.sample_rate, 24000);
    client.send({ type: 'session.update', session: { voice, mode: 'commit', sample_rate: 16000, speech_rate: 1.2 } });
    const updated = await client.waitFor('session.updated');
    assert.equal(updated.session.voice, voice);
    assert.equal(updated.session.mode, 'commit');
    assert.equal(updated.session.sample_rate, 16000);
    assert.equal(updated.session.speech_rate, 1.2);
    client.close();
  });

  it('server_commit: speaks each sentence as it completes, with every event in order', async () => {
    const client = await session();
    const from = client.events.length;
    client.send({ type: 'input_text_buffer.append', text: 'The first sentence is here. And the sec' });
    const committed = await client.waitFor('input_text_buffer.committed', from);
    assert.match(committed.item_id, /^item_/);
    await client.waitFor('response.done', from);
    client.send({ type: 'input_text_buffer.append', text: 'ond one ends now.' });
    client.send({ type: 'session.finish' });
    await client.waitFor('session.finished', from);
    assert.equal(await client.closed, 1000);
    assert.deepEqual(client.types(from), ['input_text_buffer.committed', ...responseEvents, 'input_text_buffer.committed', ...responseEvents, 'session.finished']);
    const dones = client.events.filter((event) => event.type === 'response.done');
    for (const done of dones) {
      assert.equal(done.response.object, 'realtime.response');
      assert.equal(done.response.status, 'completed');
      assert.ok(done.response.usage.characters > 10);
      const deltas = client.events.filter((event) => event.type === 'response.audio.delta' && event.response_id === done.response.id);
      for (const delta of deltas) {
        assert.equal(delta.output_index, 0);
        assert.equal(delta.content_index, 0);
        assert.match(delta.item_id, /^item_/);
      }
      const seconds = client.audioOf(done.response.id).length / 2 / 24000;
      assert.ok(seconds > 0.8 && seconds < 6, `${seconds} s of pcm`);
    }
  });

  it('server_commit: speaks text that never ends a sentence after a pause', async () => {
    const client = await session();
    const from = client.events.length;
    client.send({ type: 'input_text_buffer.append', text: 'no full stop here' });
    const done = await client.waitFor('response.done', from, 10_000);
    assert.equal(done.response.status, 'completed');
    client.close();
  });

  it('commit: waits for the client\'s commit; clear empties the buffer', async () => {
    const client = await session({ mode: 'commit' });
    const from = client.events.length;
    client.send({ type: 'input_text_buffer.append', text: 'Throw this away.' });
    client.send({ type: 'input_text_buffer.clear' });
    await client.waitFor('input_text_buffer.cleared', from);
    client.send({ type: 'input_text_buffer.append', text: 'Keep this one. ' });
    client.send({ type: 'input_text_buffer.append', text: 'And this.' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(client.types(from), ['input_text_buffer.cleared'], 'nothing is spoken before commit');
    client.send({ type: 'input_text_buffer.commit' });
    const done = await client.waitFor('response.done', from);
    assert.equal(done.response.usage.characters, 'Keep this one. And this.'.length);
    assert.deepEqual(client.types(from), ['input_text_buffer.cleared', 'input_text_buffer.committed', ...responseEvents]);
    client.send({ type: 'input_text_buffer.commit' });
    const empty = await client.waitFor('error', from);
    assert.match(empty.error.message, /buffer is empty/);
    client.close();
  });

  it('response.cancel stops the response: response.done says cancelled, the audio is cut short', async () => {
    const client = await session({ mode: 'commit' });
    const from = client.events.length;
    const long = Array.from({ length: 20 }, (_, i) => `Sentence ${i + 1} goes on for a while longer.`).join(' ');
    client.send({ type: 'input_text_buffer.append', text: long });
    client.send({ type: 'input_text_buffer.commit' });
    await client.waitFor('response.audio.delta', from);
    client.send({ type: 'response.cancel' });
    const done = await client.waitFor('response.done', from);
    assert.equal(done.response.status, 'cancelled');
    const seconds = client.audioOf(done.response.id).length / 2 / 24000;
    assert.ok(seconds < 30, `${seconds} s sent before the cancel took effect`);
    // The session goes on.
    client.send({ type: 'input_text_buffer.append', text: 'Still here.' });
    client.send({ type: 'input_text_buffer.commit' });
    const next = client.events.length;
    assert.equal((await client.waitFor('response.done', next)).response.status, 'completed');
    client.close();
  });
});

describe('realtime: formats and sample rates', () => {
  const cases: [string, number, string, string][] = [
    ['wav', 8000, 'wav', 'pcm_s16le'],
    ['wav', 44100, 'wav', 'pcm_s16le'],
    ['mp3', 16000, 'mp3', 'mp3'],
    ['mp3', 48000, 'mp3', 'mp3'],
    ['opus', 24000, 'ogg', 'opus'],
    ['opus', 48000, 'ogg', 'opus'],
  ];
  for (const [format, rate, extension, codec] of cases) {
    it(`${format} at ${rate} Hz decodes with ffmpeg to the right rate and duration`, async () => {
      const client = await session({ mode: 'commit', response_format: format, sample_rate: rate, bit_rate: 64 });
      const from = client.events.length;
      client.send({ type: 'input_text_buffer.append', text: 'A short sentence to encode.' });
      client.send({ type: 'input_text_buffer.commit' });
      const done = await client.waitFor('response.done', from);
      const audio = client.audioOf(done.response.id);
      const probed = await probeAudio(audio, extension);
      assert.equal(probed.codec, codec);
      if (codec === 'opus') {
        // Ogg Opus always decodes at 48 kHz; the encoded rate is in the OpusHead header.
        const head = audio.indexOf('OpusHead');
        assert.ok(head >= 0, 'an OpusHead packet');
        assert.equal(audio.readUInt32LE(head + 12), rate);
        assert.equal(probed.sampleRate, 48000);
      } else {
        assert.equal(probed.sampleRate, rate);
      }
      assert.ok(probed.seconds > 1 && probed.seconds < 5, `${probed.seconds} s`);
      client.close();
    });
  }

  it('pcm at 8000 Hz is raw 16-bit samples at that rate', async () => {
    const client = await session({ mode: 'commit', sample_rate: 8000 });
    const from = client.events.length;
    client.send({ type: 'input_text_buffer.append', text: 'A short sentence to encode.' });
    client.send({ type: 'input_text_buffer.commit' });
    const done = await client.waitFor('response.done', from);
    const seconds = client.audioOf(done.response.id).length / 2 / 8000;
    assert.ok(seconds > 1 && seconds < 5, `${seconds} s`);
    client.close();
  });
});

describe('realtime: errors are events and the session survives', () => {
  it('bad JSON, unknown event type, bad values, someone else\'s voice, oversized text', async () => {
    const client = await session({ mode: 'commit' });
    const other = await server.running.keys.issue('another-account');
    const foreignVoice = await createVoice(server, realtimeModel, 'high.wav', other.key);
    const fileVoice = await createVoice(server, 'qwen3-tts-vc-2026-01-22');
    const probes: [Record<string, unknown> | string, RegExp, string][] = [
      ['{not json', /not valid JSON/, 'invalid_json'],
      [{ type: 'no.such.event' }, /unknown event type/, 'invalid_value'],
      [{ type: 'session.update', session: { sample_rate: 12345 } }, /session\.sample_rate/, 'invalid_value'],
      [{ type: 'session.update', session: { speech_rate: 3 } }, /session\.speech_rate/, 'invalid_value'],
      [{ type: 'session.update', session: { response_format: 'flac' } }, /session\.response_format/, 'invalid_value'],
      [{ type: 'session.update', session: { voice: foreignVoice } }, /does not exist in this account/, 'InvalidParameter'],
      [{ type: 'session.update', session: { voice: fileVoice } }, /created for target_model qwen3-tts-vc-2026-01-22/, 'InvalidParameter'],
      [{ type: 'input_text_buffer.append', text: 'x'.repeat(20_001) }, /exceed 20000 characters/, 'invalid_value'],
      [{ type: 'input_text_buffer.append' }, /string "text"/, 'invalid_value'],
      [{ type: 'response.cancel' }, /no response is in progress/, 'invalid_value'],
    ];
    for (const [event, message, code] of probes) {
      const from = client.events.length;
      client.send(event);
      const error = await client.waitFor('error', from);
      assert.equal(error.error.code, code, JSON.stringify(error));
      assert.match(error.error.message, message);
    }
    // Still serving, with the voice it had.
    const from = client.events.length;
    client.send({ type: 'input_text_buffer.append', text: 'Still alive.' });
    client.send({ type: 'input_text_buffer.commit' });
    assert.equal((await client.waitFor('response.done', from)).response.status, 'completed');
    client.close();
  });

  it('appending before a voice is set is an error event', async () => {
    const client = await RealtimeClient.connect(server);
    await client.waitFor('session.created');
    client.send({ type: 'input_text_buffer.append', text: 'Hello.' });
    assert.match((await client.waitFor('error')).error.message, /no voice is set/);
    client.close();
  });

  it('refuses a wrong model or a missing key before the upgrade', async () => {
    await assert.rejects(RealtimeClient.connect(server, 'qwen3-tts-vc-2026-01-22'), /400/);
    await assert.rejects(RealtimeClient.connect(server, 'nonsense'), /400/);
    await assert.rejects(RealtimeClient.connect(server, realtimeModel, 'sk-timbre-wrong'), /401/);
  });
});

describe('realtime: flow control', () => {
  const long = Array.from({ length: 40 }, (_, i) => `Line ${i + 1} of a long reading, spoken slowly and clearly.`).join(' ');

  function synthesisLogs(outcome: string): number {
    return logLines.filter((line) => line.msg === 'synthesis' && line.outcome === outcome).length;
  }

  it('a client that stops reading holds the synthesis back instead of buffering without bound', async () => {
    const client = await session({ mode: 'commit' });
    const from = client.events.length;
    const doneBefore = synthesisLogs('done');
    client.send({ type: 'input_text_buffer.append', text: long });
    client.send({ type: 'input_text_buffer.commit' });
    await client.waitFor('response.audio.delta', from);
    const rawSocket = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    rawSocket.pause();
    // Unthrottled, this text is synthesized in well under a second.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(synthesisLogs('done'), doneBefore, 'the synthesis waits for the reader');
    rawSocket.resume();
    const done = await client.waitFor('response.done', from, 60_000);
    assert.equal(done.response.status, 'completed');
    const seconds = client.audioOf(done.response.id).length / 2 / 24000;
    assert.ok(seconds > 60, `all ${seconds} s of audio arrive after the pause`);
    client.close();
  });

  it('a client that disconnects stops its synthesis', async () => {
    const client = await session({ mode: 'commit' });
    const from = client.events.length;
    const abortedBefore = synthesisLogs('aborted');
    client.send({ type: 'input_text_buffer.append', text: long + ' ' + long });
    client.send({ type: 'input_text_buffer.commit' });
    await client.waitFor('response.audio.delta', from);
    client.socket.terminate();
    for (let waited = 0; waited < 5000 && synthesisLogs('aborted') === abortedBefore; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(synthesisLogs('aborted'), abortedBefore + 1);
  });
});
