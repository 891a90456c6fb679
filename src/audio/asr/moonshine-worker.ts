// Moonshine-tiny (the quantized encoder + merged decoder exported for transformers.js)
// run with onnxruntime-node, greedy decoding. A worker thread, because onnxruntime-node's
// `run()` blocks the thread it is called on for the whole inference.
import { workerData } from 'node:worker_threads';
import llamaTokenizer from 'llama-tokenizer-js';
import * as ort from 'onnxruntime-node';
import { modelThreadSessionOptions, serveModelThread } from '../model-thread.js';
import type { MoonshineFiles, MoonshineHeard, MoonshineRequest } from './moonshine-protocol.js';
import { loopAtEnd } from './repetition.js';

const { files, threads } = workerData as { files: MoonshineFiles; threads: number };

/** The tiny model's decoder shape, and the token ids of its tokenizer (LLaMA's). */
const layers = 6;
const kvHeads = 8;
const headDim = 36;
const startToken = 1;
const endToken = 2;
/** A bound on tokens per second of audio, behind `loopAtEnd` for runaways it does not see; fast speech needs ~10. */
const maxTokensPerSecond = 15;

function emptyCache(): Record<string, ort.Tensor> {
  const cache: Record<string, ort.Tensor> = {};
  for (let layer = 0; layer < layers; layer += 1) {
    for (const side of ['decoder', 'encoder']) {
      for (const part of ['key', 'value']) {
        cache[`past_key_values.${layer}.${side}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [0, kvHeads, 1, headDim]);
      }
    }
  }
  return cache;
}

function decode(tokens: number[]): string {
  return llamaTokenizer.decode(tokens, false, false).trim();
}

function argMaxOfLastRow(logits: ort.Tensor): number {
  const values = logits.data as Float32Array;
  const vocabulary = logits.dims[logits.dims.length - 1]!;
  const offset = values.length - vocabulary;
  let best = 0;
  for (let token = 1; token < vocabulary; token += 1) {
    if (values[offset + token]! > values[offset + best]!) best = token;
  }
  return best;
}

async function load(): Promise<(request: MoonshineRequest) => Promise<{ result: MoonshineHeard }>> {
  const options = modelThreadSessionOptions(threads);
  const encoder = await ort.InferenceSession.create(files.encoder, options);
  const decoder = await ort.InferenceSession.create(files.decoder, options);
  const presentNames = decoder.outputNames.filter((name) => name.startsWith('present.'));

  async function transcribe(samples: Float32Array): Promise<MoonshineHeard> {
    const encoded = await encoder.run({ input_values: new ort.Tensor('float32', samples, [1, samples.length]) });
    const hidden = encoded['last_hidden_state']!;
    const cache = emptyCache();
    const tokens: number[] = [];
    let next = startToken;
    const maxTokens = Math.max(4, Math.trunc((samples.length / 16000) * maxTokensPerSecond));
    for (let step = 0; step < maxTokens; step += 1) {
      const outputs = await decoder.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
        encoder_hidden_states: hidden,
        use_cache_branch: new ort.Tensor('bool', [step > 0], [1]),
        ...cache,
      });
      next = argMaxOfLastRow(outputs['logits']!);
      if (next === endToken) break;
      tokens.push(next);
      const loop = loopAtEnd(tokens);
      if (loop) return { text: decode(tokens.slice(0, loop.start + loop.block)), looped: true };
      // The cross-attention cache is computed once, on the first step; self-attention grows.
      for (const name of presentNames) {
        const past = name.replace('present.', 'past_key_values.');
        if (step === 0 || past.includes('.decoder.')) cache[past] = outputs[name]!;
      }
    }
    return { text: decode(tokens), looped: false };
  }

  return async ({ samples }) => ({ result: await transcribe(samples) });
}

serveModelThread(load);
