// Turns Resemblyzer's released weights (its PyPI wheel, or the pretrained.pt inside it) into the
// ONNX graph Timbre runs: no Python or torch is involved, only the checkpoint's bytes.
import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { buildEncoderGraph } from './encoder-graph.js';
import { resemblyzerMel } from './mel.js';
import { CheckpointError, readLegacyCheckpoint } from './torch-checkpoint.js';

/** Where the weights sit inside Resemblyzer's wheel. */
export const checkpointInWheel = 'resemblyzer/pretrained.pt';

/** The checkpoint's bytes: the file itself, or the member of a wheel (a zip archive). */
export async function checkpointBytes(path: string): Promise<Buffer> {
  const bytes = await readFile(path);
  if (!/\.(whl|zip)$/i.test(path)) return bytes;
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (member) => member.name === checkpointInWheel });
  } catch (error) {
    throw new CheckpointError(`${path} is not a readable wheel (${(error as Error).message})`);
  }
  const member = members[checkpointInWheel];
  if (!member) throw new CheckpointError(`${path} holds no ${checkpointInWheel}: not Resemblyzer's wheel`);
  return Buffer.from(member.buffer, member.byteOffset, member.byteLength);
}

/** The serialized encoder graph for a checkpoint; `source` is recorded in the graph's metadata. */
export function encoderGraphFromCheckpoint(checkpoint: Buffer, source: string): Uint8Array {
  const tensors = readLegacyCheckpoint(checkpoint);
  return buildEncoderGraph(tensors, resemblyzerMel, { source, encoder: 'resemblyzer-ge2e', front_end: 'librosa mel 40, n_fft 400, hop 160, slaney' });
}
