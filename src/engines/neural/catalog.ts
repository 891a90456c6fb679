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

/** A GitHub release's assets, by tag; the release API states each asset's sha256 (`digest`). */
export interface GithubReleaseSource {
  publisher: 'github';
  repo: string;
  assets: { tag: string; name: string }[];
}

/** Files of a Hugging Face repository; the resolve endpoint states each LFS file's sha256. */
export interface HuggingFaceSource {
  publisher: 'huggingface';
  repo: string;
  revision: string;
  files: string[];
}

/** Files of a PyPI release; the JSON API states each file's sha256. */
export interface PypiSource {
  publisher: 'pypi';
  project: string;
  version: string;
  files: { name: string; /** The file host's address, for when the JSON API cannot be reached. */ url: string }[];
}

/** Where the same files are published; `models pull` tries a model's sources in order. */
export type ModelSource = GithubReleaseSource | HuggingFaceSource | PypiSource;

export interface CatalogModel {
  name: 'pocket-tts' | 'zipvoice' | 'speaker-encoder';
  /** An engine speaks; a listener (the speaker encoder) judges voices. */
  role: 'engine' | 'listener';
  description: string;
  sources: ModelSource[];
  /** sha256 by downloaded file name, checked by this build; wins over what a publisher states. */
  pinned: Record<string, string>;
  files: ModelFile[];
  languages: readonly string[];
}

/** Pocket TTS's files, as the release archive and the Hugging Face mirror both hold them. */
const pocketTtsFiles: ModelFile[] = [
  { role: 'lmFlow', file: 'lm_flow.int8.onnx', kind: 'onnx' },
  { role: 'lmMain', file: 'lm_main.int8.onnx', kind: 'onnx' },
  { role: 'encoder', file: 'encoder.onnx', kind: 'onnx' },
  { role: 'decoder', file: 'decoder.int8.onnx', kind: 'onnx' },
  { role: 'textConditioner', file: 'text_conditioner.onnx', kind: 'onnx' },
  { role: 'vocabJson', file: 'vocab.json', kind: 'json' },
  { role: 'tokenScoresJson', file: 'token_scores.json', kind: 'json' },
];

export const catalog: readonly CatalogModel[] = [
  {
    name: 'pocket-tts',
    role: 'engine',
    description: 'Kyutai Pocket TTS (int8), zero-shot cloning from the reference audio alone; English',
    // sherpa-onnx's export workflow (.github/workflows/export-pocket-tts.yaml) publishes the
    // same export as a release archive and, file by file, to Hugging Face.
    sources: [
      { publisher: 'github', repo: 'k2-fsa/sherpa-onnx', assets: [{ tag: 'tts-models', name: 'sherpa-onnx-pocket-tts-int8-2026-01-26.tar.bz2' }] },
      {
        publisher: 'huggingface',
        repo: 'csukuangfj2/sherpa-onnx-pocket-tts-int8-2026-01-26',
        revision: 'main',
        files: pocketTtsFiles.map((file) => file.file),
      },
    ],
    pinned: {},
    files: pocketTtsFiles,
    languages: ['en'],
  },
  {
    name: 'zipvoice',
    role: 'engine',
    description: 'ZipVoice distill (int8) with the vocos 24 kHz vocoder; Chinese and English, needs the reference transcript',
    sources: [
      {
        publisher: 'github',
        repo: 'k2-fsa/sherpa-onnx',
        assets: [
          { tag: 'tts-models', name: 'sherpa-onnx-zipvoice-distill-int8-zh-en-emilia.tar.bz2' },
          { tag: 'vocoder-models', name: 'vocos_24khz.onnx' },
        ],
      },
    ],
    pinned: {},
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
    sources: [
      {
        publisher: 'pypi',
        project: 'resemblyzer',
        version: '0.1.4',
        files: [
          {
            name: 'Resemblyzer-0.1.4-py3-none-any.whl',
            url: 'https://files.pythonhosted.org/packages/d9/b5/d897d5de5b2123a1ad5d32e8e007d83f76582f5c32c60992577263bd7c7e/Resemblyzer-0.1.4-py3-none-any.whl',
          },
        ],
      },
    ],
    // As PyPI's simple index lists it for resemblyzer==0.1.4.
    pinned: { 'Resemblyzer-0.1.4-py3-none-any.whl': '8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f' },
    files: [{ role: 'checkpoint', file: 'pretrained.pt', kind: 'torch-checkpoint' }],
    languages: [],
  },
];

export type ModelName = CatalogModel['name'];

export function catalogModel(name: string): CatalogModel | undefined {
  return catalog.find((model) => model.name === name);
}
