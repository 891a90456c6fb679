// npm run bench:intelligibility: how well Moonshine-tiny understands the preview engine's
// English in each test voice (word error rate over twelve everyday sentences, none from the
// calibration text or the references), beside espeak-ng's own voice at the same speaking rate
// measured in the same run (the cost of adaptation as a ratio), and beside a human recording
// (what the recognizer does on real speech). espeak-ng's variants jitter at random, so each
// voice is enrolled BENCH_RUNS times (default 2) and speaks every sentence once per enrollment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openMoonshine } from '../src/audio/asr/transcriber.js';
import { analyseVoice } from '../src/audio/analysis.js';
import { collectAudio } from '../src/audio/types.js';
import { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { packageRoot } from '../src/paths.js';
import { normaliseForComparison, wordErrorRate } from '../src/voices/text-check.js';
import { wordErrorRateOver } from '../test/word-errors.js';
import { decodeRecording } from './reference-audio.js';
import { printTable } from './stats.js';

const sentences = [
  'Please remember to water the plants on the balcony while I am away. The keys are in the blue bowl by the door, and the neighbors know you are coming on Friday.',
  'A small train crossed the valley slowly, carrying wood and letters to the villages beyond the hills.',
  'The meeting has been moved to Thursday afternoon, so please bring the latest figures with you.',
  'She opened the window and listened to the rain falling on the quiet street below.',
  'Our new library will open next month, with a reading room for children and a small cafe.',
  'If you follow the path along the river, you will reach the old mill before the sun goes down.',
  'My brother fixed the old bicycle in the garage and painted it bright green.',
  'We should leave early tomorrow morning to avoid the heavy traffic on the bridge.',
  'The doctor said that a short walk every evening would help him sleep better.',
  'Could you tell me where the nearest post office is, and when it closes today?',
  'The museum keeps a collection of maps that sailors drew hundreds of years ago.',
  'After dinner they sat by the fire and told stories about their grandparents.',
];
const runs = Number(process.env.BENCH_RUNS ?? 2);
/** The target for the preview engine's English. */
const targetWer = 0.15;
const audioDir = join(packageRoot, 'test', '.audio');

const engine = await PreviewEngine.start({ threads: 2, maxQueued: 8, cacheDir: join(audioDir, 'cache') });
const transcriber = openMoonshine(join(packageRoot, 'models'), 2, 8);
if (!transcriber) throw new Error('Moonshine is not installed: run npm install');

const percent = (rate: number) => `${(rate * 100).toFixed(1)} %`;
try {
  await engine.ready();
  const rows = [['voice (test reference)', 'espeak-ng settings', 'syllables/s ref → out', 'WER adapted', 'WER espeak-ng, same rate (baseline)', 'ratio']];
  let met = 0;
  for (const name of ['low', 'high', 'fast', 'slow']) {
    const reference = decodeRecording(join(audioDir, `${name}.wav`));
    // Each run enrolls the voice again: espeak's variants jitter at random, so one enrollment's
    // analysis (its correction and pace) differs a little from the next, and a single one made
    // a voice's figure swing by up to 20 points between runs of this bench.
    let adaptedErrors = 0;
    let plainErrors = 0;
    const settingsSeen: string[] = [];
    let voice = '';
    let outputRate = 0;
    let referenceRate = 0;
    for (let run = 0; run < runs; run += 1) {
      const prompt = await engine.prepareVoice(reference);
      const settings = await engine.settingsFor(prompt, 'en', {});
      settingsSeen.push(`${settings.wordsPerMinute}`);
      voice = settings.voice;
      const speakAdapted = (text: string) => collectAudio(engine.synthesize(text, prompt, { language: 'en' }), engine.sampleRate);
      adaptedErrors += await wordErrorRateOver(transcriber, sentences, speakAdapted);
      plainErrors += await wordErrorRateOver(transcriber, sentences, (text) => collectAudio(engine.synthesizeBare(text, { wordsPerMinute: settings.wordsPerMinute }), engine.sampleRate));
      if (run === 0) outputRate = analyseVoice(await speakAdapted(sentences.join(' '))).syllableRate;
      referenceRate = prompt.stats.syllableRate;
    }
    const adapted = adaptedErrors / runs;
    const plain = plainErrors / runs;
    if (adapted < targetWer) met += 1;
    rows.push([
      name,
      `${voice} ${[...new Set(settingsSeen)].join('/')} wpm`,
      `${referenceRate.toFixed(2)} → ${outputRate.toFixed(2)}`,
      percent(adapted),
      percent(plain),
      (adapted / plain).toFixed(2),
    ]);
  }
  printTable(rows);
  const human = decodeRecording(join(audioDir, 'human-en.wav'), 16000);
  const humanText = readFileSync(join(audioDir, 'human-en.txt'), 'utf8');
  const humanWer = wordErrorRate(normaliseForComparison(humanText), normaliseForComparison(await transcriber.transcribe(human.samples)));
  console.log(`\nMoonshine-tiny on a human recording (test/.audio/human-en.wav, its own transcript): WER ${percent(humanWer)}`);
  console.log(`voices under the ${percent(targetWer)} target: ${met} of 4 (${sentences.length} sentences x ${runs} enrollments each)`);
} finally {
  await engine.close();
  await transcriber.close();
}
