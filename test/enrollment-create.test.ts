import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeWav } from '../src/audio/wav.js';
import { audioPath, createBody, dataUrl, startTestServer, voiceNamePattern, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

function assertError(result: { status: number; body: Record<string, any> }, status: number, code: string, messagePart?: RegExp): void {
  assert.equal(result.status, status, JSON.stringify(result.body));
  assert.equal(result.body.code, code);
  assert.equal(typeof result.body.request_id, 'string');
  if (messagePart) assert.match(result.body.message, messagePart);
}

describe('create: response and voice name', () => {
  it('answers with the voice, its target model, usage count 1 and a request id', async () => {
    const result = await server.enroll(createBody({ preferred_name: 'guanyu' }));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.target_model, 'qwen3-tts-vc-realtime-2026-01-15');
    assert.deepEqual(result.body.usage, { count: 1 });
    assert.equal(result.body.output.fallback_mode, false);
    const match = voiceNamePattern.exec(result.body.output.voice);
    assert.ok(match, result.body.output.voice);
    assert.equal(match[1], 'guanyu');
    const stamp = match[2]!;
    const when = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(8, 10), +stamp.slice(10, 12), +stamp.slice(12, 14), +stamp.slice(14));
    assert.ok(Math.abs(Date.now() - when) < 60_000, `timestamp ${stamp} is the creation time (UTC)`);
  });

  it('gives unique names to voices created in the same millisecond range', async () => {
    const results = await Promise.all([1, 2, 3].map(() => server.enroll(createBody({ preferred_name: 'same' }))));
    const names = results.map((result) => result.body.output.voice);
    assert.equal(new Set(names).size, 3);
  });

  it('keeps the original upload and a trimmed, normalised 24 kHz reference of at most 20 s', async () => {
    const result = await server.enroll(createBody({}, dataUrl('slow.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const voice = await server.running.repository.findVoice((await server.running.keys.authenticate(server.key))!.id, result.body.output.voice);
    assert.ok(voice);
    const original = readFileSync(join(server.dataDir, 'blobs', voice.originalBlob));
    assert.deepEqual(original, readFileSync(audioPath('slow.wav')));
    const reference = decodeWav(readFileSync(join(server.dataDir, 'blobs', voice.referenceBlob)));
    assert.equal(reference.sampleRate, 24000);
    const seconds = reference.samples.length / reference.sampleRate;
    assert.ok(seconds <= 20.001 && seconds > 10, `reference lasts ${seconds} s`);
    let sumSquares = 0;
    for (const sample of reference.samples) sumSquares += sample * sample;
    const rmsDb = 10 * Math.log10(sumSquares / reference.samples.length);
    assert.ok(rmsDb > -24 && rmsDb < -17, `reference loudness ${rmsDb.toFixed(1)} dBFS is normalised near -20`);
    // Leading silence (0.4 s in the source) is trimmed to the 0.25 s edge pad.
    const firstLoud = reference.samples.findIndex((sample) => Math.abs(sample) > 0.02);
    assert.ok(firstLoud / 24000 < 0.35, `speech starts at ${firstLoud / 24000} s`);
  });
});

describe('create: audio.data as a data URL', () => {
  for (const [file, mediatype] of [
    ['low.wav', 'audio/wav'],
    ['low.mp3', 'audio/mpeg'],
    ['low.m4a', 'audio/mp4'],
    ['low-moov-last.m4a', 'audio/mp4'],
    ['stereo48k.wav', 'audio/wav'],
    ['human-en.wav', 'audio/wav'],
  ] as const) {
    it(`accepts ${file} as ${mediatype}`, async () => {
      const result = await server.enroll(createBody({}, dataUrl(file, mediatype)));
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.ok(result.body.output.speech_seconds >= 10, `speech ${result.body.output.speech_seconds}`);
    });
  }

  it('tolerates the spaces of the provider\'s Python example ("data: audio/mpeg ;base64, ...")', async () => {
    const base64 = readFileSync(audioPath('low.mp3')).toString('base64');
    const result = await server.enroll(createBody({}, `data: audio/mpeg ;base64, ${base64} `));
    assert.equal(result.status, 200, JSON.stringify(result.body));
  });

  it('refuses other mediatypes, naming the allowed ones', async () => {
    const base64 = readFileSync(audioPath('low.wav')).toString('base64');
    assertError(await server.enroll(createBody({}, `data:audio/ogg;base64,${base64}`)), 400, 'InvalidParameter', /input\.audio\.data.*audio\/wav, audio\/mpeg or audio\/mp4/);
    assertError(await server.enroll(createBody({}, `data:text/plain;base64,${base64}`)), 400, 'InvalidParameter', /mediatype/);
  });

  it('refuses invalid base64 and data URLs without ;base64', async () => {
    assertError(await server.enroll(createBody({}, 'data:audio/wav;base64,@@@not-base64@@@')), 400, 'InvalidParameter', /base64/);
    assertError(await server.enroll(createBody({}, 'data:audio/wav,RIFF')), 400, 'InvalidParameter', /data URL/);
    assertError(await server.enroll(createBody({}, 'data:audio/wav;base64,')), 400, 'InvalidParameter', /no audio/);
  });

  it('refuses encoded data of 10 MB or more with BadRequest.TooLarge', async () => {
    const big = 'A'.repeat(10 * 1024 * 1024);
    assertError(await server.enroll(createBody({}, `data:audio/wav;base64,${big}`)), 413, 'BadRequest.TooLarge', /10 MB/);
  });

  it('refuses a body far over the limit with BadRequest.TooLarge', async () => {
    const big = 'A'.repeat(12 * 1024 * 1024);
    assertError(await server.enroll(createBody({}, `data:audio/wav;base64,${big}`)), 413, 'BadRequest.TooLarge');
  });
});

describe('create: audio that cannot make a voice is Audio.PreprocessError with a reason', () => {
  const cases: [string, string, RegExp][] = [
    ['silence.wav', 'audio/wav', /silent/],
    ['short.wav', 'audio/wav', /only \d+\.\d s of speech.*at least 3 s/],
    ['long.wav', 'audio/wav', /longer than 60 s/],
    ['human-long.wav', 'audio/wav', /longer than 60 s/],
    ['clipped.wav', 'audio/wav', /clipped/],
    ['noise.wav', 'audio/wav', /speech/],
  ];
  for (const [file, mediatype, reason] of cases) {
    it(`refuses ${file}`, async () => {
      assertError(await server.enroll(createBody({}, dataUrl(file, mediatype))), 400, 'Audio.PreprocessError', reason);
    });
  }

  it('refuses bytes that are not audio', async () => {
    const garbage = Buffer.from('this is not audio at all, just text pretending to be a wav file'.repeat(100)).toString('base64');
    assertError(await server.enroll(createBody({}, `data:audio/wav;base64,${garbage}`)), 400, 'Audio.PreprocessError', /could not be decoded/);
  });

  it('refuses a truncated wav header', async () => {
    const truncated = readFileSync(audioPath('low.wav')).subarray(0, 30).toString('base64');
    assertError(await server.enroll(createBody({}, `data:audio/wav;base64,${truncated}`)), 400, 'Audio.PreprocessError');
  });
});

describe('create: usable but poor audio is accepted with fallback_mode and a reason', () => {
  it('reports less than 10 s of speech', async () => {
    const result = await server.enroll(createBody({}, dataUrl('five-seconds.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.fallback_mode, true);
    assert.match(result.body.output.fallback_reason, /only \d\.\d s of speech; 10-20 s/);
  });

  it('reports narrowband (8 kHz) audio', async () => {
    const result = await server.enroll(createBody({}, dataUrl('narrowband.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.fallback_mode, true);
    assert.match(result.body.output.fallback_reason, /narrowband audio \(8000 Hz\)/);
  });
});

describe('create: field rules', () => {
  it('requires target_model, one of the three synthesis models', async () => {
    assertError(await server.enroll(createBody({ target_model: undefined })), 400, 'InvalidParameter', /^input\.target_model is required/);
    assertError(await server.enroll(createBody({ target_model: 'qwen3-tts-flash' })), 400, 'InvalidParameter', /^input\.target_model must be one of qwen3-tts-vc-realtime-2026-01-15, qwen3-tts-vc-realtime-2025-11-27, qwen3-tts-vc-2026-01-22/);
    for (const model of ['qwen3-tts-vc-realtime-2026-01-15', 'qwen3-tts-vc-realtime-2025-11-27', 'qwen3-tts-vc-2026-01-22']) {
      const result = await server.enroll(createBody({ target_model: model }));
      assert.equal(result.status, 200);
      assert.equal(result.body.output.target_model, model);
    }
  });

  it('requires preferred_name of 1-16 letters, digits or underscores', async () => {
    assertError(await server.enroll(createBody({ preferred_name: undefined })), 400, 'InvalidParameter', /^input\.preferred_name is required/);
    for (const bad of ['', 'a'.repeat(17), 'has space', 'dash-name', 'ünïcode', 'emoji😀', 12]) {
      assertError(await server.enroll(createBody({ preferred_name: bad })), 400, 'InvalidParameter', /^input\.preferred_name /);
    }
    for (const good of ['a', 'A_1', 'x'.repeat(16), '0123456789']) {
      const result = await server.enroll(createBody({ preferred_name: good }));
      assert.equal(result.status, 200, `${good}: ${JSON.stringify(result.body)}`);
      assert.equal(voiceNamePattern.exec(result.body.output.voice)?.[1], good);
    }
  });

  it('requires audio.data', async () => {
    assertError(await server.enroll(createBody({ audio: undefined })), 400, 'InvalidParameter', /^input\.audio is required/);
    assertError(await server.enroll(createBody({ audio: {} })), 400, 'InvalidParameter', /^input\.audio\.data is required/);
    assertError(await server.enroll(createBody({ audio: { data: '' } })), 400, 'InvalidParameter', /^input\.audio\.data is empty/);
    assertError(await server.enroll(createBody({ audio: 'x' })), 400, 'InvalidParameter', /^input\.audio must be an object/);
  });

  it('accepts language from the list and refuses others', async () => {
    const result = await server.enroll(createBody({ language: 'en' }));
    assert.equal(result.status, 200);
    assertError(await server.enroll(createBody({ language: 'xx' })), 400, 'InvalidParameter', /^input\.language must be one of zh, en, de, it, pt, es, ja, ko, fr, ru/);
    assertError(await server.enroll(createBody({ language: 'EN' })), 400, 'InvalidParameter', /^input\.language/);
  });

  it('accepts text as a string and refuses other types', async () => {
    const text = readFileSync(audioPath('passage.txt'), 'utf8');
    assert.equal((await server.enroll(createBody({ text }))).status, 200);
    assertError(await server.enroll(createBody({ text: 42 })), 400, 'InvalidParameter', /^input\.text must be a string/);
  });
});

describe('create: the rehearsal before the server listens', () => {
  it('runs a whole create on a generated upload and stores nothing', async () => {
    const files = () => readdirSync(server.dataDir, { recursive: true }).map(String).filter((path) => !/\.(db|sqlite)(-wal|-shm|-journal)?$/.test(path)).sort();
    const accountId = (await server.running.keys.authenticate(server.key))!.id;
    const before = { files: files(), voices: await server.running.repository.countVoices(accountId) };
    // It throws where any step refuses (the cut, the one-voice check with the encoder installed).
    await server.running.voices.rehearse();
    assert.deepEqual({ files: files(), voices: await server.running.repository.countVoices(accountId) }, before);
  });
});
