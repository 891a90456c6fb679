// Synthetic ZipVoice: text encoder, flow-matching decoder and vocos vocoder graphs with random
// weights, plus tokens.txt, lexicon.txt and espeak-ng data, honouring the contract of
// sherpa-onnx's ZipVoice loader (offline-tts-zipvoice-model.cc, -impl.h, vocos-vocoder.cc,
// matcha-tts-lexicon.cc):
// - encoder: (tokens int64 [1, T], prompt_tokens int64 [1, P], prompt_features_len int64 [1],
//   speed float [1]) -> text_condition float [1, N, feat_dim], N >= prompt_features_len
//   (the frames after the prompt's are the new speech)
// - decoder: (t [1], x, text_condition, speech_condition [1, N, feat_dim], guidance_scale [1])
//   -> velocity [1, N, feat_dim]; metadata feat_dim, sample_rate, n_fft, hop_length, num_mels
// - vocoder: mel [1, num_mels, frames] -> (mag, x, y) [1, n_fft / 2 + 1, frames], metadata
//   model_type=vocos; sherpa-onnx turns them into audio by inverse STFT
// - tokens.txt "symbol id" lines (a line with only an id is the space), lexicon.txt "word
//   token token ...", espeak-ng-data for words outside the lexicon.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, randomSource } from '../../src/onnx/graph-builder.js';

const featDim = 100;
const fftBins = 513;
/** Output frames per text token: 4 x 256 samples at 24 kHz, about 43 ms. */
export const zipvoiceFramesPerToken = 4;
export const zipvoiceHopLength = 256;

export const zipvoiceFiles = {
  encoder: 'encoder.int8.onnx',
  decoder: 'decoder.int8.onnx',
  vocoder: 'vocos_24khz.onnx',
  tokens: 'tokens.txt',
  lexicon: 'lexicon.txt',
  dataDir: 'espeak-ng-data',
} as const;

/** Debian's espeak-ng data (package espeak-ng-data), as the stand-in for the one upstream ships. */
export const systemEspeakData = '/usr/lib/x86_64-linux-gnu/espeak-ng-data';

const words = [
  'a', 'and', 'the', 'is', 'of', 'to', 'in', 'this', 'that', 'it', 'hello', 'world', 'there', 'my', 'voice', 'speaks', 'from', 'test', 'train',
  'small', 'crossed', 'valley', 'slowly', 'carrying', 'wood', 'letters', 'villages', 'beyond', 'hills', 'good', 'morning', 'what', 'said', 'in',
  'reference', 'every', 'evening', 'lighthouse', 'keeper', 'climbed', 'stairs', 'winding', 'at', 'dusk', 'he', 'she', 'we', 'you', 'are', 'was',
];
const chinese = ['你', '好', '世', '界', '我', '的', '声', '音'];

function tokenTable(): string[] {
  return [...'abcdefghijklmnopqrstuvwxyz', ',', '.', '!', '?', ...chinese.map((_, index) => `zh${index}`)];
}

function encoder(tokenCount: number, random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [
      { name: 'tokens', type: 'int64', shape: [1, 'num_tokens'] },
      { name: 'prompt_tokens', type: 'int64', shape: [1, 'num_prompt_tokens'] },
      { name: 'prompt_features_len', type: 'int64', shape: [1] },
      { name: 'speed', type: 'float', shape: [1] },
    ],
    [{ name: 'text_condition', type: 'float', shape: [1, 'num_frames', featDim] }],
  );
  const tokens = graph.op('Gather', [graph.op('Shape', ['tokens']), graph.int64s([1], [1])], { axis: 0 });
  const frames = graph.op('Add', ['prompt_features_len', graph.op('Mul', [tokens, graph.int64s([1], [zipvoiceFramesPerToken])])]);
  const limit = graph.op('Squeeze', [frames, graph.int64s([1], [0])]);
  const index = graph.op('Cast', [graph.op('Range', [graph.int64s([], [0]), limit, graph.int64s([], [1])])], { to: 1 });
  const phase = graph.op('Mul', [graph.op('Reshape', [index, graph.int64s([3], [1, -1, 1])]), graph.random([1, 1, featDim], 0.3, random)]);
  const embedding = graph.op('ReduceMean', [graph.op('Gather', [graph.random([tokenCount, featDim], 1, random), 'tokens'], { axis: 0 })], { axes: [1], keepdims: 1 });
  graph.op('Add', [graph.op('Sin', [phase]), embedding], {}, 'text_condition');
  return graph.encode({ use_espeak: '1' });
}

function decoder(random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [
      { name: 't', type: 'float', shape: [1] },
      { name: 'x', type: 'float', shape: [1, 'num_frames', featDim] },
      { name: 'text_condition', type: 'float', shape: [1, 'num_frames', featDim] },
      { name: 'speech_condition', type: 'float', shape: [1, 'num_frames', featDim] },
      { name: 'guidance_scale', type: 'float', shape: [1] },
    ],
    [{ name: 'v', type: 'float', shape: [1, 'num_frames', featDim] }],
  );
  const mixed = graph.op('MatMul', [graph.op('Add', ['text_condition', graph.op('Mul', ['speech_condition', graph.scalar(0.05)])]), graph.random([featDim, featDim], 0.2, random)]);
  const target = graph.op('Mul', [graph.op('Tanh', [mixed]), graph.scalar(3)]);
  graph.op('Add', [graph.op('Sub', [target, 'x']), graph.op('Mul', ['t', graph.op('Mul', ['guidance_scale', graph.scalar(0.01)])])], {}, 'v');
  return graph.encode({ version: '1', feat_dim: String(featDim), sample_rate: '24000', n_fft: '1024', hop_length: String(zipvoiceHopLength), window_length: '1024', num_mels: String(featDim) });
}

function vocoder(random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [{ name: 'mels', type: 'float', shape: [1, featDim, 'num_frames'] }],
    [
      { name: 'mag', type: 'float', shape: [1, fftBins, 'num_frames'] },
      { name: 'x', type: 'float', shape: [1, fftBins, 'num_frames'] },
      { name: 'y', type: 'float', shape: [1, fftBins, 'num_frames'] },
    ],
  );
  graph.op('Mul', [graph.op('Sigmoid', [graph.op('MatMul', [graph.random([fftBins, featDim], 0.1, random), 'mels'])]), graph.scalar(0.5)], {}, 'mag');
  const phase = graph.op('MatMul', [graph.random([fftBins, featDim], 1, random), 'mels']);
  graph.op('Cos', [phase], {}, 'x');
  graph.op('Sin', [phase], {}, 'y');
  return graph.encode({ model_type: 'vocos', n_fft: '1024', hop_length: String(zipvoiceHopLength), win_length: '1024', center: '1', normalized: '0', window_type: 'hann', pad_mode: 'reflect' });
}

/** Writes a complete synthetic ZipVoice model folder (vocoder included). */
export function writeSyntheticZipVoice(folder: string, seed = 2, extraWords: string[] = []): void {
  if (!existsSync(systemEspeakData)) throw new Error(`${systemEspeakData} is missing: install the Debian package espeak-ng-data (scripts/setup-test-env.sh does)`);
  mkdirSync(folder, { recursive: true });
  const random = randomSource(seed);
  const table = tokenTable();
  // Id 0 is the space (a line holding only the id).
  writeFileSync(join(folder, zipvoiceFiles.tokens), ['0', ...table.map((token, index) => `${token} ${index + 1}`)].join('\n') + '\n');
  const lexicon = [
    ...[...words, ...extraWords.map((word) => word.toLowerCase()).filter((word) => /^[a-z]+$/.test(word))].map((word) => `${word} ${[...word].join(' ')}`),
    ...chinese.map((character, index) => `${character} zh${index}`),
  ];
  writeFileSync(join(folder, zipvoiceFiles.lexicon), [...new Set(lexicon)].join('\n') + '\n');
  cpSync(systemEspeakData, join(folder, zipvoiceFiles.dataDir), { recursive: true });
  writeFileSync(join(folder, zipvoiceFiles.encoder), encoder(table.length + 1, random));
  writeFileSync(join(folder, zipvoiceFiles.decoder), decoder(random));
  writeFileSync(join(folder, zipvoiceFiles.vocoder), vocoder(random));
}
