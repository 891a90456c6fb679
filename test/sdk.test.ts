import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TimbreApiError, TimbreClient, TimbreConnectionError } from '../src/client/index.js';
import { decodeWav } from '../src/audio/wav.js';
import { audioPath, probeAudio, startTestServer, type TestServer } from './helpers.js';

// The SDK against a live server on loopback, as a developer uses it.
let server: TestServer;
let client: TimbreClient;
let origin: Server;
let originUrl = '';

before(async () => {
  server = await startTestServer({ TIMBRE_FETCH_ALLOW_CIDRS: '127.0.0.1/32' });
  client = new TimbreClient({ baseUrl: server.url + '/', apiKey: server.key });
  // A public URL for the create-from-URL path.
  origin = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'audio/mpeg' });
    response.end(readFileSync(audioPath('low.mp3')));
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/low.mp3`;
});
after(async () => {
  origin.close();
  await server.stop();
});

function pcmSeconds(bytes: number, rate = 24000): number {
  return bytes / 2 / rate;
}

describe('SDK: voices', () => {
  const made: string[] = [];

  it('creates from a file path, a Buffer and a URL, with text, language and consent', async () => {
    const fromPath = await client.voices.create({ audio: audioPath('human-en.wav'), preferredName: 'path', targetModel: 'qwen3-tts-vc-2026-01-22' });
    assert.match(fromPath.voice, /^qwen-tts-vc-path-voice-\d{17}-[0-9a-f]{4}$/);
    assert.equal(fromPath.targetModel, 'qwen3-tts-vc-2026-01-22');
    assert.ok(fromPath.speechSeconds! > 10);
    assert.match(fromPath.requestId, /^[0-9a-f-]{36}$/);
    const fromBuffer = await client.voices.create({
      audio: readFileSync(audioPath('low.m4a')),
      preferredName: 'buffer',
      language: 'en',
      consent: { method: 'checkbox', statement: 'The speaker agreed.', givenBy: 'Sam' },
    });
    const fromUrl = await client.voices.create({ audio: new URL(originUrl), preferredName: 'url' });
    made.push(fromPath.voice, fromBuffer.voice, fromUrl.voice);

    const listed = await client.voices.list({ pageSize: 10 });
    assert.equal(listed.totalCount, 3);
    const buffer = listed.voices.find((voice) => voice.voice === fromBuffer.voice)!;
    assert.equal(buffer.language, 'en');
    assert.deepEqual({ ...buffer.consent, gmtRecorded: undefined }, { method: 'checkbox', statement: 'The speaker agreed.', givenBy: 'Sam', gmtRecorded: undefined });
    const reference = decodeWav(await client.voices.reference(fromPath.voice));
    assert.ok(reference.samples.length / reference.sampleRate > 10);
  });

  it('sends spoken consent with its audio, and reads back what the server verified', async () => {
    const statement = readFileSync(audioPath('human-en-consent.txt'), 'utf8');
    const created = await client.voices.create({
      audio: audioPath('human-en.wav'),
      preferredName: 'spoken',
      consent: { method: 'spoken', statement, audio: audioPath('human-en-consent.wav') },
    });
    const listed = await client.voices.list({ pageSize: 10 });
    const verification = listed.voices.find((voice) => voice.voice === created.voice)!.consent!.verification!;
    assert.ok(verification.speakerSimilarity >= verification.threshold);
    assert.match(verification.audioSha256, /^[0-9a-f]{64}$/);
    const refused = await client.voices
      .create({ audio: audioPath('human-en.wav'), preferredName: 'other', consent: { method: 'spoken', statement, audio: audioPath('low.wav') } })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof TimbreApiError);
    assert.equal(refused.code, 'InvalidParameter');
    assert.match(refused.message, /failed the speaker check/);
    await client.voices.delete(created.voice);
  });

  it('iterates over every page', async () => {
    const seen: string[] = [];
    for await (const voice of client.voices.iterate(2)) seen.push(voice.voice);
    assert.deepEqual(seen.sort(), [...made].sort());
    const second = await client.voices.list({ pageIndex: 1, pageSize: 2 });
    assert.equal(second.voices.length, 1);
    assert.equal(second.pageIndex, 1);
  });

  it('throws TimbreApiError with code, message, status and request id', async () => {
    const refused = await client.voices.create({ audio: audioPath('silence.wav'), preferredName: 'quiet' }).catch((error: unknown) => error);
    assert.ok(refused instanceof TimbreApiError);
    assert.equal(refused.code, 'Audio.PreprocessError');
    assert.equal(refused.status, 400);
    assert.match(refused.requestId ?? '', /^[0-9a-f-]{36}$/);
    const badName = await client.voices.create({ audio: audioPath('low.wav'), preferredName: 'no spaces' }).catch((error: unknown) => error);
    assert.ok(badName instanceof TimbreApiError && badName.code === 'InvalidParameter' && /preferred_name/.test(badName.message));
    const wrongKey = new TimbreClient({ baseUrl: server.url, apiKey: 'sk-timbre-nope' });
    const denied = await wrongKey.voices.list().catch((error: unknown) => error);
    assert.ok(denied instanceof TimbreApiError && denied.code === 'InvalidApiKey' && denied.status === 401);
    const nowhere = new TimbreClient({ baseUrl: 'http://127.0.0.1:9', apiKey: server.key });
    assert.ok((await nowhere.voices.list().catch((error: unknown) => error)) instanceof TimbreConnectionError);
  });

  it('deletes, and the audit trail keeps the entry', async () => {
    const gone = made.pop()!;
    await client.voices.delete(gone);
    assert.equal((await client.voices.list()).totalCount, 2);
    const again = await client.voices.delete(gone).catch((error: unknown) => error);
    assert.ok(again instanceof TimbreApiError && again.code === 'InvalidParameter' && /does not exist/.test(again.message));
    const entries = await client.voices.audit();
    assert.deepEqual(entries.filter((entry) => entry.voice === gone).map((entry) => entry.event), ['deleted', 'created']);
  });
});

describe('SDK: speech', () => {
  const text = 'Good morning. The train to the coast leaves at nine, and it is never late.';
  let fileVoice = '';
  let realtimeVoice = '';

  before(async () => {
    const listed = await client.voices.list();
    fileVoice = listed.voices.find((voice) => voice.targetModel === 'qwen3-tts-vc-2026-01-22')!.voice;
    realtimeVoice = listed.voices.find((voice) => voice.targetModel === 'qwen3-tts-vc-realtime-2026-01-15')!.voice;
  });

  it('synthesizes to a Buffer (the WAV behind the link), and streams the same speech over SSE', async () => {
    const file = await client.speech.synthesize({ voice: fileVoice, text });
    assert.equal(file.characters, [...text].length);
    const wav = decodeWav(file.wav);
    assert.equal(wav.sampleRate, 24000);
    const fileSeconds = wav.samples.length / wav.sampleRate;
    assert.ok(fileSeconds > 2 && fileSeconds < 10, `${fileSeconds} s`);

    let chunks = 0;
    let bytes = 0;
    for await (const chunk of client.speech.stream({ voice: fileVoice, text })) {
      chunks += 1;
      bytes += chunk.length;
    }
    assert.ok(chunks >= 2, `${chunks} chunks`);
    assert.ok(Math.abs(pcmSeconds(bytes) - fileSeconds) < 0.5, `streamed ${pcmSeconds(bytes)} s, file ${fileSeconds} s`);
  });

  it('speaks through the OpenAI-compatible endpoint in the format asked for', async () => {
    const mp3 = await client.speech.openai({ voice: fileVoice, input: text, format: 'mp3' });
    const probed = await probeAudio(mp3, 'mp3');
    assert.equal(probed.codec, 'mp3');
    assert.ok(probed.seconds > 2);
  });

  it('refuses a voice of another model with a typed error', async () => {
    const error = await client.speech.synthesize({ voice: realtimeVoice, text }).catch((caught: unknown) => caught);
    assert.ok(error instanceof TimbreApiError && error.code === 'InvalidParameter', String(error));
  });

  it('runs a realtime session: append, commit, audio as an async iterator, finish', async () => {
    const session = await client.realtime.connect({ voice: realtimeVoice, mode: 'commit', responseFormat: 'pcm', sampleRate: 16000 });
    session.append('Hello there. ');
    session.append('This is a realtime session.');
    session.commit();
    const finishing = (async () => {
      await session.next('response.done');
      await session.finish();
    })();
    let bytes = 0;
    for await (const chunk of session.audio()) bytes += chunk.length;
    await finishing;
    assert.ok(pcmSeconds(bytes, 16000) > 1, `${pcmSeconds(bytes, 16000)} s`);
    const types = session.events.map((event) => event.type);
    assert.deepEqual(types.slice(0, 2), ['session.created', 'session.updated']);
    assert.equal(types.at(-1), 'session.finished');
  });

  it('cancels a realtime response and reports recoverable errors without closing', async () => {
    const session = await client.realtime.connect({ voice: realtimeVoice, mode: 'commit' });
    const errors: TimbreApiError[] = [];
    session.onError = (error) => errors.push(error);
    session.commit(); // nothing to commit: an error event, the session goes on
    // Long enough that the response is still speaking when the cancel arrives.
    session.append(Array.from({ length: 40 }, (_, i) => `Sentence number ${i + 1} goes on for a while before it ends.`).join(' '));
    session.commit();
    await session.next('response.audio.delta');
    session.cancel();
    const done = await session.next('response.done', session.events.findIndex((event) => event.type === 'response.created'));
    assert.equal((done.response as { status: string }).status, 'cancelled', session.events.map((event) => event.type).join(' '));
    assert.equal(errors.length, 1);
    await session.finish();
    const refused = await client.realtime.connect({ voice: fileVoice }).catch((error: unknown) => error);
    assert.ok(refused instanceof TimbreApiError && refused.code === 'InvalidParameter', String(refused));
  });
});
