// npm run bench:speaker-equivalence: is Timbre's speaker encoder Resemblyzer's? Resemblyzer
// itself (torch, librosa, webrtcvad, in .venv-reference) embeds real speech: 20 LibriSpeech
// speakers and Debian's recorded speakers; Timbre embeds the same files three ways:
//   encoder   - the very samples Resemblyzer preprocessed: the mel front end and the network alone;
//   untrimmed - the decoded file with volume normalisation only, against Resemblyzer's the same way;
//   pipeline  - Timbre's whole preprocessing (Silero VAD standing in for webrtcvad) against
//               Resemblyzer's whole preprocessing: what the VAD substitution changes.
// `--write-fixture` keeps three files' reference values for the unit tests (test/fixtures).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SpeakerEncoder, speakerEncoderPath, speakerEncoderThreads, speakerSimilarity } from '../src/audio/speaker/encoder.js';
import { packageRoot } from '../src/paths.js';
import { decodeRecording } from './reference-audio.js';
import { printTable } from './stats.js';

interface ReferenceResult {
  path: string;
  embedding: number[];
  preprocessed: string;
  embedding_untrimmed: number[];
  mel_every_tenth_frame: number[][];
}

const librispeech = join(packageRoot, '..', 'shared', 'audio', 'librispeech-train-clean');
const modelsDir = join(packageRoot, 'models');
const files = [
  ...readdirSync(librispeech)
    .filter((name) => name.endsWith('.flac'))
    .sort()
    .slice(0, 20)
    .map((name) => join(librispeech, name)),
  join(packageRoot, 'test', '.audio', 'human-en.wav'),
  join(packageRoot, 'test', '.audio', 'human-en-consent.wav'),
  join(packageRoot, 'test', '.audio', 'human-fr.wav'),
];

const scratch = mkdtempSync(join(tmpdir(), 'timbre-resemblyzer-'));
try {
  const python = join(packageRoot, '.venv-reference', 'bin', 'python');
  const output = execFileSync(python, [join(packageRoot, 'bench', 'python', 'resemblyzer_reference.py'), scratch], { input: JSON.stringify(files), maxBuffer: 1 << 28, encoding: 'utf8' });
  const references = output.trim().split('\n').map((line) => JSON.parse(line) as ReferenceResult);
  const encoder = new SpeakerEncoder(speakerEncoderPath(modelsDir), join(modelsDir, 'silero_vad.onnx'), speakerEncoderThreads, 64);
  const rows = [['file', 'encoder cos', 'untrimmed cos', 'pipeline cos', 'Resemblyzer kept s', 'Timbre kept s']];
  const figures = { encoder: [] as number[], untrimmed: [] as number[], pipeline: [] as number[] };
  for (const reference of references) {
    const bytes = readFileSync(reference.preprocessed);
    const preprocessed = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const decoded = decodeRecording(reference.path, 16000);
    const same = await encoder.embed({ samples: preprocessed, sampleRate: 16000 }, { trimSilence: false });
    const untrimmed = await encoder.embed(decoded, { trimSilence: false });
    const pipeline = await encoder.analyse(decoded);
    const cosines = [
      speakerSimilarity(same, Float32Array.from(reference.embedding)),
      speakerSimilarity(untrimmed, Float32Array.from(reference.embedding_untrimmed)),
      speakerSimilarity(pipeline.embedding, Float32Array.from(reference.embedding)),
    ] as const;
    figures.encoder.push(cosines[0]);
    figures.untrimmed.push(cosines[1]);
    figures.pipeline.push(cosines[2]);
    rows.push([relative(join(packageRoot, '..'), reference.path), ...cosines.map((value) => value.toFixed(5)), (preprocessed.length / 16000).toFixed(2), pipeline.seconds.toFixed(2)]);
  }
  const summary = (values: number[]) => `min ${Math.min(...values).toFixed(5)}, mean ${(values.reduce((sum, value) => sum + value, 0) / values.length).toFixed(5)}`;
  printTable(rows);
  console.log(`\n${references.length} files. encoder (same samples): ${summary(figures.encoder)}; untrimmed: ${summary(figures.untrimmed)}; whole pipeline (Silero for webrtcvad): ${summary(figures.pipeline)}`);
  if (process.argv.includes('--write-fixture')) {
    const fixture = references.slice(0, 3).map((reference) => ({
      file: relative(join(packageRoot, '..'), reference.path),
      embeddingUntrimmed: reference.embedding_untrimmed,
      melEveryTenthFrame: reference.mel_every_tenth_frame,
    }));
    writeFileSync(join(packageRoot, 'test', 'fixtures', 'resemblyzer-reference.json'), `${JSON.stringify(fixture)}\n`);
    console.log('wrote test/fixtures/resemblyzer-reference.json');
  }
  await encoder.close();
  if (Math.min(...figures.encoder, ...figures.untrimmed) < 0.995) {
    console.error('FAIL: an embedding of the same samples differs from Resemblyzer\'s (cosine < 0.995)');
    process.exitCode = 1;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
