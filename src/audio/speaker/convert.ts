// Turns Resemblyzer's released weights (the pretrained.pt inside its PyPI wheel) into the ONNX
// graph Timbre runs: no Python or torch is involved, only the checkpoint's bytes.
import { buildEncoderGraph } from './encoder-graph.js';
import { resemblyzerMel } from './mel.js';
import { readLegacyCheckpoint } from './torch-checkpoint.js';

/** The serialized encoder graph for a checkpoint; `source` is recorded in the graph's metadata. */
export function encoderGraphFromCheckpoint(checkpoint: Buffer, source: string): Uint8Array {
  const tensors = readLegacyCheckpoint(checkpoint);
  return buildEncoderGraph(tensors, resemblyzerMel, { source, encoder: 'resemblyzer-ge2e', front_end: 'librosa mel 40, n_fft 400, hop 160, slaney' });
}
