// npm run bench:similarity: how much each engine's clones sound like their speakers, judged by
// the speaker encoder (Resemblyzer's GE2E), beside baselines measured in the same run.
//
// Speakers: BENCH_SPEAKERS LibriSpeech speakers (default 40, of the 120 in shared/) and Debian's
// recorded speakers (Allison in English, June in French). Each recording is split: the first
// part (at most 10 s, leaving at least 5 s) enrols the voice, as a client's upload would (the
// same intake: VAD, trimming, loudness); the rest is the speaker's held-out speech. Each engine
// speaks three fixed sentences in each voice; their concatenation is embedded.
//
// Per row: the mean cosine between each clone and its own speaker's held-out speech, and the
// identification accuracy (the share of clones closer to their own speaker's held-out speech
// than to every other speaker's). Baselines: plain espeak-ng at its defaults (one voice for
// everyone), the real speaker's enrolment part against the held-out part, and real different
// speakers. Every recording and every clone is embedded as enrollment embeds an upload: the
// silences trimmed by the intake's own VAD spans. Then the equal error rate
// of same- vs different-speaker trials over all 120
// LibriSpeech speakers (the threshold behind spoken-consent verification), the spread of
// segment embeddings inside one speaker's reference against two speakers joined (the one-voice
// check), and the time to embed 10 s of speech beside ffmpeg decoding the same file.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadNeuralEngines } from '../src/app.js';
import { AudioRejected } from '../src/errors.js';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { ReferenceIntake } from '../src/audio/intake.js';
import { SpeakerEncoder, speakerEncoderPath, speakerEncoderThreads, speakerSimilarity } from '../src/audio/speaker/encoder.js';
import { collectAudio, joinSamples, type Audio } from '../src/audio/types.js';
import { SpeechDetector } from '../src/audio/vad.js';
import { encodeWav } from '../src/audio/wav.js';
import type { Engine } from '../src/engines/engine.js';
import { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { packageRoot } from '../src/paths.js';
import { analyseUpload as analyseIntake, equalErrorRate, oneSpeakerSpread, oneVoiceLayout, speakerThresholds } from '../src/voices/speaker-check.js';
import { decodeRecording } from './reference-audio.js';
import { percentile, printTable } from './stats.js';

const sentences = [
  'The meeting has been moved to Thursday afternoon, so please bring the latest figures with you.',
  'She opened the window and listened to the rain falling on the quiet street below.',
  'If you follow the path along the river, you will reach the old mill before the sun goes down.',
];
const librispeech = join(packageRoot, '..', 'shared', 'audio', 'librispeech-train-clean');
const modelsDir = join(packageRoot, 'models');
const audioDir = join(packageRoot, 'test', '.audio');
const speakerCount = Number(process.env.BENCH_SPEAKERS ?? 40);

interface Speaker {
  id: string;
  language: 'en' | 'fr';
  enrolment: Audio;
  heldOut: Audio;
}

function split(id: string, language: 'en' | 'fr', recording: Audio): Speaker {
  const seconds = recording.samples.length / recording.sampleRate;
  const at = Math.round(Math.min(10, seconds - 5) * recording.sampleRate);
  return { id, language, enrolment: { samples: recording.samples.slice(0, at), sampleRate: recording.sampleRate }, heldOut: { samples: recording.samples.slice(at), sampleRate: recording.sampleRate } };
}

const allLibrispeech = readdirSync(librispeech)
  .filter((name) => name.endsWith('.flac'))
  .sort()
  .map((name) => split(name.replace('.flac', ''), 'en', decodeRecording(join(librispeech, name), 16000)));
const cloned: Speaker[] = [
  ...allLibrispeech.slice(0, speakerCount),
  split('debian-allison-en', 'en', decodeRecording(join(audioDir, 'human-en.wav'), 16000)),
  split('debian-june-fr', 'fr', decodeRecording(join(audioDir, 'human-fr.wav'), 16000)),
];

const encoder = new SpeakerEncoder(speakerEncoderPath(modelsDir), join(modelsDir, 'silero_vad.onnx'), speakerEncoderThreads, 256);
const intake = new ReferenceIntake(new SpeechDetector(join(modelsDir, 'silero_vad.onnx'), 20), { fetchPolicy: { allowCidrs: [], timeoutMs: 1000, maxBytes: 1 }, decodeTimeoutMs: 20_000 });
const preview = await PreviewEngine.start({ threads: 2, maxQueued: 64, cacheDir: join(audioDir, 'cache') });
const neural = await loadNeuralEngines(
  { modelsDir, neuralThreads: 2, neuralJobs: 1, engineQueue: 64, voiceEmbeddingCache: 64, neuralSteps: 5 },
  pino({ level: 'warn' }),
);
/** The upload as enrollment reads it (decode, VAD, speech pieces, best reference window). */
async function intakeOf(audio: Audio) {
  const upload = join(audioDir, `.similarity-${process.pid}.upload`);
  try {
    return await intake.read('audio.data', `data:audio/wav;base64,${encodeWav(audio).toString('base64')}`, upload);
  } finally {
    rmSync(upload, { force: true });
  }
}
/** The speaker analysis of an upload, as enrollment's speaker checks make it. */
const analyseUpload = async (audio: Audio, options = {}) => analyseIntake(encoder, await intakeOf(audio), options);
const embedUpload = async (audio: Audio) => (await analyseUpload(audio)).embedding;
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const share = (values: number[], test: (value: number) => boolean) => `${((values.filter(test).length / values.length) * 100).toFixed(2)} %`;
const joined16k = (...parts: Float32Array[]): Audio => ({ samples: joinSamples(parts), sampleRate: 16000 });

try {
  await preview.ready();
  const heldOut = new Map<string, Float32Array>();
  for (const speaker of cloned) heldOut.set(speaker.id, await embedUpload(speaker.heldOut));

  /** Mean cosine to the own speaker, and the share closer to the own speaker than to any other. */
  const judge = (embeddings: Map<string, Float32Array>) => {
    const own: number[] = [];
    let identified = 0;
    for (const [id, embedding] of embeddings) {
      const ownScore = speakerSimilarity(embedding, heldOut.get(id)!);
      own.push(ownScore);
      const beaten = [...heldOut].some(([other, vector]) => other !== id && speakerSimilarity(embedding, vector) >= ownScore);
      if (!beaten) identified += 1;
    }
    return { meanCosine: mean(own), identified: identified / embeddings.size };
  };

  const rows: string[][] = [['', 'mean cosine to own speaker', 'identification accuracy', 'voices']];
  const addRow = (label: string, judged: { meanCosine: number; identified: number }, count: number) =>
    rows.push([label, judged.meanCosine.toFixed(3), `${(judged.identified * 100).toFixed(1)} %`, String(count)]);

  const enrolled = new Map<string, Float32Array>();
  for (const speaker of cloned) enrolled.set(speaker.id, await embedUpload(speaker.enrolment));
  addRow('real speech: enrolment part vs held-out (same speaker)', judge(enrolled), cloned.length);

  const bare = await collectAudio(preview.synthesizeBare(sentences.join(' ')), preview.sampleRate);
  const bareEmbedding = await embedUpload(bare);
  addRow('plain espeak-ng at its defaults (baseline)', judge(new Map(cloned.map((speaker) => [speaker.id, bareEmbedding]))), cloned.length);

  for (const engine of [preview as Engine, ...neural]) {
    const clones = new Map<string, Float32Array>();
    const started = performance.now();
    for (const speaker of cloned) {
      if (!engine.languages.includes(speaker.language)) continue;
      const prepared = await intakeOf(speaker.enrolment);
      const prompt = await engine.prepareVoice(prepared.reference, null, speaker.language);
      const speech = await collectAudio(engine.synthesize(sentences.join(' '), prompt, { language: speaker.language }), engine.sampleRate);
      clones.set(speaker.id, await embedUpload(speech));
    }
    addRow(`${engine.id} clones`, judge(clones), clones.size);
    console.error(`${engine.id}: ${clones.size} voices in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (neural.length === 0) rows.push(['(no neural engine installed: timbre models pull pocket-tts)', '-', '-', '-']);

  // Real different speakers: every pair of distinct speakers, enrolment part vs held-out part.
  const different: number[] = [];
  for (const [id, embedding] of enrolled) for (const [other, vector] of heldOut) if (other !== id) different.push(speakerSimilarity(embedding, vector));
  rows.push(['real speech: different speakers (baseline)', mean(different).toFixed(3), '-', `${different.length} pairs`]);
  printTable(rows);

  // Verification over all 120 LibriSpeech speakers: same = the two parts of one file.
  // A part the intake refuses (under 3 s of speech: a short recording with long pauses) is left out, as a create would refuse it.
  const parts: (readonly [Float32Array, Float32Array])[] = [];
  let refused = 0;
  for (const speaker of allLibrispeech) {
    try {
      parts.push([await embedUpload(speaker.enrolment), await embedUpload(speaker.heldOut)]);
    } catch (error) {
      if (!(error instanceof AudioRejected)) throw error;
      refused += 1;
    }
  }
  const same = parts.map(([a, b]) => speakerSimilarity(a, b));
  const others: number[] = [];
  parts.forEach(([a], i) => parts.forEach(([, b], j) => i !== j && others.push(speakerSimilarity(a, b))));
  const eer = equalErrorRate(same, others);
  console.log(
    `\nverification, ${parts.length} LibriSpeech speakers (${refused} left out: a part under 3 s of speech; ${same.length} same-speaker, ${others.length} different-speaker trials): ` +
      `EER ${(eer.rate * 100).toFixed(2)} % at cosine ${eer.threshold.toFixed(3)} (Timbre accepts spoken consent from ${speakerThresholds.sameSpeaker}: ` +
      `false rejections ${share(same, (score) => score < speakerThresholds.sameSpeaker)}, false acceptances ${share(others, (score) => score >= speakerThresholds.sameSpeaker)}); same-speaker p1/p5/median ${[1, 5, 50].map((p) => percentile(same, p).toFixed(3)).join('/')}, ` +
      `different-speaker p99/max ${percentile(others, 99).toFixed(3)}/${Math.max(...others).toFixed(3)}`,
  );

  // One voice per reference: the spread inside single speakers' whole files against two speakers joined.
  const single: number[] = [];
  const joined: number[] = [];
  for (let index = 0; index < allLibrispeech.length; index += 1) {
    const speaker = allLibrispeech[index]!;
    const whole = joined16k(speaker.enrolment.samples, speaker.heldOut.samples);
    single.push(oneSpeakerSpread((await analyseUpload(whole, oneVoiceLayout)).partials));
    const next = allLibrispeech[(index + 1) % allLibrispeech.length]!;
    const pair = joined16k(speaker.enrolment.samples.subarray(0, 8 * 16000), next.enrolment.samples.subarray(0, 8 * 16000));
    joined.push(oneSpeakerSpread((await analyseUpload(pair, oneVoiceLayout)).partials));
  }
  console.log(
    `one-voice check (lowest cosine between segment embeddings): one speaker min/p1/p5/median ${Math.min(...single).toFixed(3)}/${[1, 5, 50].map((p) => percentile(single, p).toFixed(3)).join('/')}; ` +
      `two speakers joined (8 s + 8 s) median/p95/max ${[50, 95].map((p) => percentile(joined, p).toFixed(3)).join('/')}/${Math.max(...joined).toFixed(3)}; ` +
      `refused below ${speakerThresholds.twoVoicesRefuseBelow}: ${share(joined, (value) => value < speakerThresholds.twoVoicesRefuseBelow)} of joined, ${share(single, (value) => value < speakerThresholds.twoVoicesRefuseBelow)} of single; ` +
      `noted below ${speakerThresholds.twoVoicesNoteBelow}: ${share(joined, (value) => value < speakerThresholds.twoVoicesNoteBelow)} of joined, ${share(single, (value) => value < speakerThresholds.twoVoicesNoteBelow)} of single`,
  );

  // Speed: 10 s of speech embedded, beside ffmpeg decoding the same 10 s in the same run.
  const tenSeconds = join(librispeech, readdirSync(librispeech).find((name) => name.endsWith('.flac'))!);
  const clip = decodeRecording(tenSeconds, 16000);
  const speech10 = { samples: clip.samples.slice(0, 10 * 16000), sampleRate: 16000 };
  const embedTimes: number[] = [];
  const decodeTimes: number[] = [];
  for (let run = 0; run < 12; run += 1) {
    let start = performance.now();
    await encoder.embed(speech10);
    embedTimes.push(performance.now() - start);
    start = performance.now();
    execFileSync(ffmpegPath, ['-v', 'error', '-t', '10', '-i', tenSeconds, '-f', 'f32le', '-ac', '1', '-ar', '16000', 'pipe:1'], { maxBuffer: 1 << 26 });
    decodeTimes.push(performance.now() - start);
  }
  console.log(`embedding 10 s of speech: p50 ${percentile(embedTimes, 50).toFixed(0)} ms (p90 ${percentile(embedTimes, 90).toFixed(0)}); ffmpeg decoding the same 10 s: p50 ${percentile(decodeTimes, 50).toFixed(0)} ms; ratio ${(percentile(embedTimes, 50) / percentile(decodeTimes, 50)).toFixed(2)}`);
} finally {
  await preview.close();
  await Promise.all(neural.map((engine) => engine.close()));
  await encoder.close();
}
