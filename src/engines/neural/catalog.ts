// The neural models Timbre knows how to install and run: where upstream publishes them, and
// which files each needs (by role, as sherpa-onnx's config names them).

export interface ModelFile {
  /** sherpa-onnx config key. */
  role: string;
  /** File name in the upstream archive (found anywhere under it). */
  file: string;
  /** `torch-checkpoint`: PyTorch weights that Timbre converts to an ONNX graph at install. */
  kind: 'onnx' | 'json' | 'text' | 'folder' | 'torch-checkpoint';
}

export interface Download {
  /** Upstream release asset: a .tar.bz2 / .tar.gz archive, or a single file. */
  url: string;
  /**
   * Its sha256. Null where it could not be pinned (the asset could not be downloaded where
   * this build was made): `models pull` then needs `--sha256` from a source the operator
   * trusts, and never installs an unverified download.
   */
  sha256: string | null;
}

export interface CatalogModel {
  name: 'pocket-tts' | 'zipvoice' | 'speaker-encoder';
  /** An engine speaks; a listener (the speaker encoder) judges voices. */
  role: 'engine' | 'listener';
  description: string;
  downloads: Download[];
  files: ModelFile[];
  languages: readonly string[];
}

export const catalog: readonly CatalogModel[] = [
  {
    name: 'pocket-tts',
    role: 'engine',
    description: 'Kyutai Pocket TTS (int8), zero-shot cloning from the reference audio alone; English',
    downloads: [{ url: 'https://github.com/k2-fsa/sherpa-onnx/releases/download/tts-models/sherpa-onnx-pocket-tts-int8-2026-01-26.tar.bz2', sha256: null }],
    files: [
      { role: 'lmFlow', file: 'lm_flow.int8.onnx', kind: 'onnx' },
      { role: 'lmMain', file: 'lm_main.int8.onnx', kind: 'onnx' },
      { role: 'encoder', file: 'encoder.onnx', kind: 'onnx' },
      { role: 'decoder', file: 'decoder.int8.onnx', kind: 'onnx' },
      { role: 'textConditioner', file: 'text_conditioner.onnx', kind: 'onnx' },
      { role: 'vocabJson', file: 'vocab.json', kind: 'json' },
      { role: 'tokenScoresJson', file: 'token_scores.json', kind: 'json' },
    ],
    languages: ['en'],
  },
  {
    name: 'zipvoice',
    role: 'engine',
    description: 'ZipVoice distill (int8) with the vocos 24 kHz vocoder; Chinese and English, needs the reference transcript',
    downloads: [
      { url: 'https://github.com/k2-fsa/sherpa-onnx/releases/download/tts-models/sherpa-onnx-zipvoice-distill-int8-zh-en-emilia.tar.bz2', sha256: null },
      { url: 'https://github.com/k2-fsa/sherpa-onnx/releases/download/vocoder-models/vocos_24khz.onnx', sha256: null },
    ],
    files: [
      { role: 'encoder', file: 'encoder.int8.onnx', kind: 'onnx' },
      { role: 'decoder', file: 'decoder.int8.onnx', kind: 'onnx' },
      { role: 'vocoder', file: 'vocos_24khz.onnx', kind: 'onnx' },
      { role: 'tokens', file: 'tokens.txt', kind: 'text' },
      { role: 'lexicon', file: 'lexicon.txt', kind: 'text' },
      { role: 'dataDir', file: 'espeak-ng-data', kind: 'folder' },
    ],
    languages: ['zh', 'en'],
  },
  {
    name: 'speaker-encoder',
    role: 'listener',
    description: "Resemblyzer's GE2E voice encoder (Apache-2.0), converted to ONNX at install: speaker similarity, spoken-consent verification, one-speaker check",
    // PyPI's file host; URL and sha256 as PyPI's simple index lists them for resemblyzer==0.1.4.
    downloads: [
      {
        url: 'https://files.pythonhosted.org/packages/d9/b5/d897d5de5b2123a1ad5d32e8e007d83f76582f5c32c60992577263bd7c7e/Resemblyzer-0.1.4-py3-none-any.whl',
        sha256: '8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f',
      },
    ],
    files: [{ role: 'checkpoint', file: 'pretrained.pt', kind: 'torch-checkpoint' }],
    languages: [],
  },
];

export type ModelName = CatalogModel['name'];

export function catalogModel(name: string): CatalogModel | undefined {
  return catalog.find((model) => model.name === name);
}
