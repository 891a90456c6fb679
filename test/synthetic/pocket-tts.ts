// Synthetic Pocket TTS: five small ONNX graphs with random weights and the two tokenizer
// files, honouring the contract sherpa-onnx's Pocket loader expects (learned from its
// offline-tts-pocket-model.cc and -impl.h):
// - text_conditioner: tokens int64 [1, T] -> text embeddings float [1, T, 1024]
// - encoder (mimi): audio float [1, 1, N] at 24 kHz -> voice embeddings float [1, F, 1024]
// - lm_main: (sequence [1, S, 32] (NaN at the first step), embeddings [1, E, 1024], ...state)
//   -> (conditioning, eos_logit, ...new state); state inputs are zero-filled from their shapes
// - lm_flow: (c, s [1, 1], t [1, 1], x [1, 32]) -> flow direction [1, 32]
// - decoder (mimi): (latent [1, C, 32], ...state) -> (audio [1, 1, C * 1920], ...new state)
// The speech is noise shaped by the weights, but it depends on the voice and the text: each
// text token adds three 80 ms frames before the end-of-speech logit rises.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, randomSource } from '../../src/onnx/graph-builder.js';

const embeddingDim = 1024;
const latentDim = 32;
export const pocketSamplesPerFrame = 1920;

/** Files as sherpa-onnx's pocket release names them. */
export const pocketFiles = {
  lmFlow: 'lm_flow.int8.onnx',
  lmMain: 'lm_main.int8.onnx',
  encoder: 'encoder.onnx',
  decoder: 'decoder.int8.onnx',
  textConditioner: 'text_conditioner.onnx',
  vocabJson: 'vocab.json',
  tokenScoresJson: 'token_scores.json',
} as const;

function tokenizerFiles(): { vocab: Record<string, number>; scores: Record<string, number> } {
  const tokens: string[] = ['<unk>', '▁'];
  for (let byte = 0; byte < 256; byte += 1) tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
  for (const letter of 'abcdefghijklmnopqrstuvwxyz') tokens.push(letter, `▁${letter}`);
  for (const word of ['the', '▁the', '▁and', '▁is', '▁of', '▁to', 'ing', 'ed', '.', ',', '?', '!']) tokens.push(word);
  // Ids must be dense: sherpa-onnx sizes its id table by the number of entries.
  const unique = [...new Set(tokens)];
  const vocab = Object.fromEntries(unique.map((token, id) => [token, id]));
  // Bytes are the last resort; longer pieces score higher than their letters.
  const scores = Object.fromEntries(unique.map((token) => [token, token.startsWith('<0x') ? -20 : -10 + [...token].length]));
  return { vocab, scores };
}

function textConditioner(vocabSize: number, random: () => number): Uint8Array {
  const graph = new GraphBuilder([{ name: 'tokens', type: 'int64', shape: [1, 'num_tokens'] }], [{ name: 'text_embeddings', type: 'float', shape: [1, 'num_tokens', embeddingDim] }]);
  graph.op('Gather', [graph.random([vocabSize, embeddingDim], 1, random), 'tokens'], { axis: 0 }, 'text_embeddings');
  return graph.encode();
}

function encoder(random: () => number): Uint8Array {
  const graph = new GraphBuilder([{ name: 'audio', type: 'float', shape: [1, 1, 'num_samples'] }], [{ name: 'voice_embeddings', type: 'float', shape: [1, 1, embeddingDim] }]);
  // Level, energy and peak of the reference: different voices give different embeddings.
  const mean = graph.op('ReduceMean', ['audio'], { axes: [2], keepdims: 1 });
  const energy = graph.op('ReduceMean', [graph.op('Mul', ['audio', 'audio'])], { axes: [2], keepdims: 1 });
  const peak = graph.op('ReduceMax', [graph.op('Abs', ['audio'])], { axes: [2], keepdims: 1 });
  const features = graph.op('Concat', [mean, graph.op('Sqrt', [energy]), peak], { axis: 2 });
  graph.op('Tanh', [graph.op('MatMul', [features, graph.random([3, embeddingDim], 8, random)])], {}, 'voice_embeddings');
  return graph.encode();
}

function lmMain(random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [
      { name: 'sequence', type: 'float', shape: [1, 'num_frames', latentDim] },
      { name: 'embeddings', type: 'float', shape: [1, 'num_embeddings', embeddingDim] },
      { name: 'state_memory', type: 'float', shape: [1, embeddingDim] },
      { name: 'state_embeddings', type: 'float', shape: [1, 1] },
      { name: 'state_frames', type: 'float', shape: [1, 1] },
    ],
    [
      { name: 'conditioning', type: 'float', shape: [1, embeddingDim] },
      { name: 'eos_logit', type: 'float', shape: [1, 1] },
      { name: 'new_state_memory', type: 'float', shape: [1, embeddingDim] },
      { name: 'new_state_embeddings', type: 'float', shape: [1, 1] },
      { name: 'new_state_frames', type: 'float', shape: [1, 1] },
    ],
  );
  const axis1 = graph.int64s([1], [1]);
  const memory = graph.op('Add', ['state_memory', graph.op('ReduceSum', ['embeddings', axis1], { keepdims: 0 })], {}, 'new_state_memory');
  const embeddings = graph.op('Add', ['state_embeddings', graph.dimAsFloat('embeddings', 1)], {}, 'new_state_embeddings');
  const frames = graph.op('Add', ['state_frames', graph.dimAsFloat('sequence', 1)], {}, 'new_state_frames');
  // The first frame is NaN (the start marker): read it as zeros.
  const sequence = graph.op('Where', [graph.op('IsNaN', ['sequence']), graph.scalar(0), 'sequence']);
  const previous = graph.op('MatMul', [graph.op('ReduceSum', [sequence, axis1], { keepdims: 0 }), graph.random([latentDim, embeddingDim], 0.5, random)]);
  const progress = graph.op('Mul', [frames, graph.random([1, embeddingDim], 0.2, random)]);
  graph.op('Tanh', [graph.op('Add', [graph.op('Add', [graph.op('Mul', [memory, graph.scalar(0.05)]), previous]), progress])], {}, 'conditioning');
  // End of speech after three frames per embedding (the voice counts as one).
  graph.op('Sub', [graph.op('Sub', [frames, graph.op('Mul', [embeddings, graph.scalar(3)])]), graph.scalar(1)], {}, 'eos_logit');
  return graph.encode();
}

function lmFlow(random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [
      { name: 'c', type: 'float', shape: [1, embeddingDim] },
      { name: 's', type: 'float', shape: [1, 1] },
      { name: 't', type: 'float', shape: [1, 1] },
      { name: 'x', type: 'float', shape: [1, latentDim] },
    ],
    [{ name: 'flow_dir', type: 'float', shape: [1, latentDim] }],
  );
  const target = graph.op('Tanh', [graph.op('MatMul', ['c', graph.random([embeddingDim, latentDim], 0.2, random)])]);
  const direction = graph.op('Sub', [target, 'x']);
  graph.op('Add', [direction, graph.op('Mul', [graph.op('Sub', ['t', 's']), graph.scalar(0.1)])], {}, 'flow_dir');
  return graph.encode();
}

function decoder(random: () => number): Uint8Array {
  const graph = new GraphBuilder(
    [
      { name: 'latent', type: 'float', shape: [1, 'num_frames', latentDim] },
      { name: 'state_frames', type: 'float', shape: [1, 1] },
    ],
    [
      { name: 'audio', type: 'float', shape: [1, 1, 'num_samples'] },
      { name: 'new_state_frames', type: 'float', shape: [1, 1] },
    ],
  );
  graph.op('Add', ['state_frames', graph.dimAsFloat('latent', 1)], {}, 'new_state_frames');
  const frames = graph.op('Tanh', [graph.op('MatMul', ['latent', graph.random([latentDim, pocketSamplesPerFrame], 0.3, random)])]);
  graph.op('Reshape', [graph.op('Mul', [frames, graph.scalar(0.3)]), graph.int64s([3], [1, 1, -1])], {}, 'audio');
  return graph.encode();
}

/** Writes a complete synthetic Pocket TTS model folder. */
export function writeSyntheticPocketTts(folder: string, seed = 1): void {
  mkdirSync(folder, { recursive: true });
  const random = randomSource(seed);
  const { vocab, scores } = tokenizerFiles();
  writeFileSync(join(folder, pocketFiles.vocabJson), JSON.stringify(vocab));
  writeFileSync(join(folder, pocketFiles.tokenScoresJson), JSON.stringify(scores));
  writeFileSync(join(folder, pocketFiles.textConditioner), textConditioner(Object.keys(vocab).length, random));
  writeFileSync(join(folder, pocketFiles.encoder), encoder(random));
  writeFileSync(join(folder, pocketFiles.lmMain), lmMain(random));
  writeFileSync(join(folder, pocketFiles.lmFlow), lmFlow(random));
  writeFileSync(join(folder, pocketFiles.decoder), decoder(random));
}
