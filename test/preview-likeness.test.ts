// The preview engine's clones judged on real human voices (nine LibriSpeech speakers from
// shared/ and Debian's Allison): by the speaker encoder against each speaker's held-out
// speech, beside plain espeak-ng; and by mel-cepstral distortion against the same held-out
// speech, beside the engine without its spectral correction (the octave EQ it had before).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { speakerSimilarity } from '../src/audio/speaker/encoder.js';
import { collectAudio, type Audio } from '../src/audio/types.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import type { PreviewEngine, PreviewVoicePrompt } from '../src/engines/preview/preview-engine.js';
import { packageRoot } from '../src/paths.js';
import { melCepstralDistortion } from './mel-cepstral-distortion.js';
import { audioPath, createBody, startTestServer, type TestServer } from './helpers.js';

const librispeech = join(packageRoot, '..', 'shared', 'audio', 'librispeech-train-clean');
const artifacts = join(packageRoot, 'test', '.artifacts');
const text = 'The meeting has been moved to Thursday afternoon, so please bring the latest figures with you. She opened the window and listened to the rain falling on the quiet street below.';

function decode(file: string): Audio {
  const raw = execFileSync(ffmpegPath, ['-v', 'error', '-i', file, '-f', 'f32le', '-ac', '1', '-ar', '16000', 'pipe:1'], { maxBuffer: 1 << 28 });
  const samples = new Float32Array(raw.length / 4);
  new Uint8Array(samples.buffer).set(raw);
  return { samples, sampleRate: 16000 };
}

interface Speaker {
  id: string;
  enrolment: Audio;
  heldOut: Audio;
}

/** The first part (at most 10 s, leaving 5 s) enrols; the rest is held out. */
function split(id: string, recording: Audio): Speaker {
  const at = Math.round(Math.min(10, recording.samples.length / recording.sampleRate - 5) * recording.sampleRate);
  return { id, enrolment: { samples: recording.samples.slice(0, at), sampleRate: 16000 }, heldOut: { samples: recording.samples.slice(at), sampleRate: 16000 } };
}

// Nine LibriSpeech speakers spread over the set (men and women), and Allison.
const speakers: Speaker[] = [
  ...readdirSync(librispeech)
    .filter((name) => name.endsWith('.flac'))
    .sort()
    .filter((_, index) => index % 13 === 0)
    .slice(0, 9)
    .map((name) => split(name.replace('.flac', ''), decode(join(librispeech, name)))),
  split('debian-allison', decode(audioPath('human-en.wav'))),
];

let server: TestServer;
const engine = () => server.running.engine as PreviewEngine;
const speak = (prompt: PreviewVoicePrompt) => collectAudio(engine().synthesize(text, prompt, { language: 'en' }), engine().sampleRate);

interface Judged {
  id: string;
  prompt: PreviewVoicePrompt;
  clone: Audio;
  withoutCorrection: Audio;
  heldOut: Audio;
}
const judged: Judged[] = [];

before(async () => {
  server = await startTestServer();
  assert.ok(server.running.speakerEncoder, 'the test setup installs the speaker encoder');
  const account = (await server.running.keys.authenticate(server.key))!;
  for (const speaker of speakers) {
    const created = await server.enroll(createBody({ preferred_name: speaker.id.replace(/[^a-z0-9]/gi, '').slice(0, 16) }, `data:audio/wav;base64,${encodeWav(speaker.enrolment).toString('base64')}`));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const record = (await server.preparedVoice(account.id, created.body.output.voice))!;
    const prompt = JSON.parse(record.voicePrompt!) as PreviewVoicePrompt;
    assert.ok(prompt.correction, `${speaker.id}: the prompt holds a spectral correction`);
    const { correction: _, ...before } = prompt;
    judged.push({ id: speaker.id, prompt, clone: await speak(prompt), withoutCorrection: await speak(before), heldOut: speaker.heldOut });
  }
});
after(async () => {
  await server.stop();
});

describe('preview engine: clones sound like their speakers (real voices)', () => {
  it('each clone is closer to its own speaker than plain espeak-ng is, for at least 8 of 10 speakers', async (context) => {
    const encoder = server.running.speakerEncoder!;
    const bare = await encoder.embed(await collectAudio(engine().synthesizeBare(text), engine().sampleRate));
    const rows: string[] = [];
    let closer = 0;
    for (const entry of judged) {
      const own = await encoder.embed(entry.heldOut);
      const clone = speakerSimilarity(await encoder.embed(entry.clone), own);
      const plain = speakerSimilarity(bare, own);
      if (clone > plain) closer += 1;
      rows.push(`${entry.id}: clone ${clone.toFixed(3)}, espeak-ng ${plain.toFixed(3)}`);
    }
    context.diagnostic(rows.join('; '));
    assert.ok(closer >= 8, `closer for ${closer} of 10:\n${rows.join('\n')}`);
  });

  it('the spectral correction lowers the mel-cepstral distortion to held-out speech (after DTW)', (context) => {
    const rows: string[] = [];
    let lower = 0;
    let sumWith = 0;
    let sumWithout = 0;
    for (const entry of judged) {
      const withCorrection = melCepstralDistortion(entry.clone, entry.heldOut);
      const without = melCepstralDistortion(entry.withoutCorrection, entry.heldOut);
      sumWith += withCorrection;
      sumWithout += without;
      if (withCorrection < without) lower += 1;
      rows.push(`${entry.id}: ${without.toFixed(2)} dB -> ${withCorrection.toFixed(2)} dB`);
    }
    context.diagnostic(`mean ${(sumWithout / judged.length).toFixed(2)} dB -> ${(sumWith / judged.length).toFixed(2)} dB; ${rows.join('; ')}`);
    assert.ok(sumWith < sumWithout, `mean ${(sumWithout / judged.length).toFixed(2)} dB -> ${(sumWith / judged.length).toFixed(2)} dB:\n${rows.join('\n')}`);
    assert.ok(lower >= 7, `lower for ${lower} of 10:\n${rows.join('\n')}`);
  });

  it('writes spectrograms of one clone before and after the correction, beside its reference, into test/.artifacts', () => {
    mkdirSync(artifacts, { recursive: true });
    const allison = judged.find((entry) => entry.id === 'debian-allison')!;
    const pictures: Record<string, Audio> = { reference: allison.heldOut, before: allison.withoutCorrection, after: allison.clone };
    for (const [name, audio] of Object.entries(pictures)) {
      const wav = join(artifacts, `preview-${name}.wav`);
      writeFileSync(wav, encodeWav(audio));
      execFileSync(ffmpegPath, ['-v', 'error', '-y', '-i', wav, '-lavfi', 'aresample=16000,showspectrumpic=s=640x200:legend=0:scale=log', join(artifacts, `preview-${name}.png`)]);
      assert.ok(decodeWav(encodeWav(audio)).samples.length > 0);
    }
  });
});
