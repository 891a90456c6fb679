// Spoken consent verified by the speaker encoder, and one voice per reference, on real human
// voices: Debian's Allison (English prompts) and LibriSpeech speakers from shared/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { packageRoot } from '../src/paths.js';
import { audioPath, createBody, dataUrl, startTestServer, type TestServer } from './helpers.js';

const librispeech = join(packageRoot, '..', 'shared', 'audio', 'librispeech-train-clean');
const scratch = mkdtempSync(join(tmpdir(), 'timbre-speakers-'));
const reference = dataUrl('human-en.wav');
const consentStatement = readFileSync(audioPath('human-en-consent.txt'), 'utf8');
const allisonConsent = dataUrl('human-en-consent.wav');

/** Seconds `from`..`to` of a file (or files joined), as a WAV data URL. */
function clip(name: string, inputs: { file: string; from: number; to: number }[]): string {
  const out = join(scratch, `${name}.wav`);
  const args = inputs.flatMap(({ file, from, to }) => ['-ss', String(from), '-to', String(to), '-i', file]);
  const filter = `${inputs.map((_, index) => `[${index}:a]`).join('')}concat=n=${inputs.length}:v=0:a=1`;
  execFileSync(ffmpegPath, ['-v', 'error', '-y', ...args, '-filter_complex', filter, '-ar', '16000', '-ac', '1', '-c:a', 'pcm_s16le', out]);
  return `data:audio/wav;base64,${readFileSync(out).toString('base64')}`;
}

// The first two men of the set, by SPEAKERS.TXT (`ID | SEX | SUBSET | MINUTES | NAME`).
const sexOf = new Map(
  readFileSync(join(librispeech, 'SPEAKERS.TXT'), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith(';'))
    .map((line) => line.split('|').map((field) => field.trim()) as [string, string]),
);
const [maleA, maleB] = readdirSync(librispeech)
  .filter((name) => name.endsWith('.flac') && sexOf.get(name.split('-')[0]!) === 'M')
  .sort()
  .map((name) => join(librispeech, name)) as [string, string];

const servers: TestServer[] = [];
let server: TestServer;
before(async () => {
  server = await startTestServer();
  servers.push(server);
  assert.ok(server.running.speakerEncoder, 'the test setup installs the speaker encoder (timbre models pull speaker-encoder)');
});
after(async () => {
  await Promise.all(servers.map((each) => each.stop()));
  rmSync(scratch, { recursive: true, force: true });
});

const spoken = (audio: string, statement = consentStatement) => ({ method: 'spoken', statement, given_by: 'Allison', audio });

describe('spoken consent: the consent speaker is the reference speaker, saying the statement', () => {
  it('accepts the same speaker (other prompts of the same recording session), and keeps the score and a hash, not the audio', async () => {
    const created = await server.enroll(createBody({ consent: spoken(allisonConsent) }, reference));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
    const consent = listed.body.output.voice_list[0].consent;
    assert.equal(consent.method, 'spoken');
    assert.ok(consent.verification.speaker_similarity >= consent.verification.threshold, JSON.stringify(consent));
    assert.ok(consent.verification.statement_word_error_rate <= 0.5, JSON.stringify(consent));
    const uploaded = Buffer.from(allisonConsent.slice(allisonConsent.indexOf(',') + 1), 'base64');
    assert.equal(consent.verification.audio_sha256, createHash('sha256').update(uploaded).digest('hex'));
    assert.equal('audio' in consent, false, 'no audio is returned or kept');
    const audit = (await (await fetch(`${server.url}/api/v1/voices/audit`, { headers: { authorization: `Bearer ${server.key}` } })).json()) as Record<string, any>;
    assert.deepEqual(audit.output.entries[0].consent.verification, consent.verification);
  });

  it('refuses a different speaker: a LibriSpeech man consenting for Allison', async () => {
    const refused = await server.enroll(createBody({ consent: spoken(clip('male-consent', [{ file: maleA, from: 0, to: 6 }])) }, reference));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'InvalidParameter');
    assert.match(refused.body.message, /input\.consent\.audio failed the speaker check: the consent is not spoken by the reference's speaker \(similarity 0\.\d+, at least 0\.\d+ needed\)/);
  });

  it('refuses a different speaker of the same sex: two LibriSpeech men', async () => {
    const refused = await server.enroll(
      createBody({ consent: spoken(clip('male-b', [{ file: maleB, from: 0, to: 6 }]), 'I agree.') }, clip('male-a', [{ file: maleA, from: 0, to: 12 }])),
    );
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /failed the speaker check/);
  });

  it('accepts one LibriSpeech man consenting for his own reference (the other part of his recording) when the statement is not checked', async () => {
    const accepted = await server.enroll(
      createBody({ language: 'fr', consent: spoken(clip('male-a-end', [{ file: maleA, from: 6, to: 30 }]), 'Je suis d\'accord.') }, clip('male-a-start', [{ file: maleA, from: 0, to: 6 }])),
    );
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  });

  it('refuses a statement that is not what was said', async () => {
    const refused = await server.enroll(createBody({ consent: spoken(allisonConsent, 'I agree that Timbre may clone my voice for any purpose whatsoever.') }, reference));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'InvalidParameter');
    assert.match(refused.body.message, /input\.consent\.statement failed the statement check: it is not what the consent audio says/);
  });

  it('refuses consent audio that cannot be used, naming the consent and not the reference', async () => {
    const silent = await server.enroll(createBody({ consent: spoken(dataUrl('silence.wav')) }, reference));
    assert.equal(silent.status, 400);
    assert.equal(silent.body.code, 'InvalidParameter');
    assert.match(silent.body.message, /^input\.consent\.audio could not be used: /);
    const garbled = await server.enroll(createBody({ consent: spoken('data:audio/wav;base64,UklGRiQAAABXQVZF') }, reference));
    assert.equal(garbled.status, 400);
    assert.match(garbled.body.message, /input\.consent\.audio/);
  });

  it('refuses consent audio with another method, naming the field', async () => {
    const refused = await server.enroll(createBody({ consent: { ...spoken(allisonConsent), method: 'checkbox' } }, reference));
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /input\.consent\.audio audio goes with method "spoken"/);
  });

  it('with TIMBRE_REQUIRE_CONSENT=spoken, refuses consent without audio and accepts verified spoken consent', async () => {
    const strict = await startTestServer({ TIMBRE_REQUIRE_CONSENT: 'spoken' });
    servers.push(strict);
    const refused = await strict.enroll(createBody({ consent: { method: 'checkbox', statement: 'I agree.' } }, reference));
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /requires spoken consent with every voice/);
    assert.equal((await strict.enroll(createBody({ consent: spoken(allisonConsent) }, reference))).status, 200);
  });

  it('without the speaker encoder, TIMBRE_REQUIRE_CONSENT=spoken stops the start and consent audio is refused', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'timbre-models-'));
    for (const file of ['silero_vad.onnx', 'moonshine-tiny-encoder.onnx', 'moonshine-tiny-decoder.onnx']) writeFileSync(join(bare, file), readFileSync(join(packageRoot, 'models', file)));
    try {
      await assert.rejects(startTestServer({ TIMBRE_MODELS_DIR: bare, TIMBRE_REQUIRE_CONSENT: 'spoken' }), /TIMBRE_REQUIRE_CONSENT=spoken needs the speaker encoder/);
      const plain = await startTestServer({ TIMBRE_MODELS_DIR: bare });
      servers.push(plain);
      assert.equal(plain.running.speakerEncoder, null);
      const refused = await plain.enroll(createBody({ consent: spoken(allisonConsent) }, reference));
      assert.equal(refused.status, 400);
      assert.match(refused.body.message, /input\.consent\.audio cannot be verified: this server has no speaker encoder installed/);
      assert.equal((await plain.enroll(createBody({}, reference))).status, 200, 'everything else works as before');
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('one voice per reference', () => {
  it('refuses two speakers joined into one reference, with Audio.PreprocessError saying so', async () => {
    const joined = clip('two-speakers', [
      { file: maleA, from: 0, to: 8 },
      { file: audioPath('human-en.wav'), from: 0, to: 8 },
    ]);
    const refused = await server.enroll(createBody({}, joined));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'Audio.PreprocessError');
    assert.match(refused.body.message, /the reference holds more than one speaker/);
  });

  it('accepts one speaker without a doubt', async () => {
    const created = await server.enroll(createBody({}, clip('one-speaker', [{ file: maleB, from: 0, to: 14 }])));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.doesNotMatch(String(created.body.output.fallback_reason ?? ''), /speaker/, JSON.stringify(created.body.output));
  });
});
