import type { Logger } from 'pino';
import { watermarked, type WatermarkIdentity, type WatermarkKey } from '../audio/watermark.js';
import type { Clock } from '../clock.js';
import type { Engine, SynthesisOptions, VoicePrompt } from '../engines/engine.js';
import type { EngineRouter } from '../engines/router.js';
import { InvalidField, ModelMismatch, VoiceNotFound } from '../errors.js';
import type { Account, Repository, VoiceRecord } from '../store/repository.js';
import type { VoicePrompts } from '../voices/prompts.js';
import { normaliseText } from './normalise.js';
import { splitSentences } from './sentences.js';

export interface SpeechRequest {
  account: Account;
  voiceName: string;
  /** The model the client named; it must be the voice's target model. */
  model: string;
  text: string;
  /** ISO 639-1, or null to use the voice's language or guess from the text. */
  language: string | null;
  speechRate?: number;
  pitchRate?: number;
  volume?: number;
  signal?: AbortSignal;
}

export interface Speech {
  voice: VoiceRecord;
  /** The engine that speaks (named in responses and logs). */
  engine: Engine;
  sampleRate: number;
  characters: number;
  sentences: string[];
  /** Mono chunks at `sampleRate`, sentence after sentence, the first as early as the engine allows. */
  audio: AsyncIterable<Float32Array>;
}

/** What one synthesis did, for logs and metrics. */
export interface SynthesisRecord {
  engine: string;
  voice: string;
  characters: number;
  sentences: number;
  sampleRate: number;
  outcome: 'done' | 'aborted' | 'failed';
  firstChunkMs: number | null;
  audioSeconds: number;
  rtf: number | null;
}

export const speechLimits = {
  maxTextCharacters: 20_000,
  /** Joins between sentences are crossfaded over this long, so no click marks them. */
  crossfadeSeconds: 0.01,
} as const;

/** A best guess from the script when neither the request nor the voice names a language. */
export function guessLanguage(text: string): string {
  if (/[\u3040-\u30ff]/.test(text)) return 'ja';
  if (/[\uac00-\ud7af]/.test(text)) return 'ko';
  if (/\p{Script=Han}/u.test(text)) return 'zh';
  if (/[\u0400-\u04ff]/.test(text)) return 'ru';
  return 'en';
}

/**
 * Speaking text in an enrolled voice: the rules every synthesis API shares (the voice is the
 * caller's, the model is the voice's, usage and last use are recorded, long text goes
 * sentence by sentence with numbers in words).
 */
export class SpeechService {
  constructor(
    private readonly repository: Repository,
    /** Each voice's engine prompt: stored, under way since its create, or prepared on first use. */
    private readonly prompts: VoicePrompts,
    private readonly engines: EngineRouter,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly observe: (record: SynthesisRecord) => void = () => undefined,
    /** Marks every output with the voice's watermark; null where the operator turned it off. */
    private readonly watermark: WatermarkKey | null = null,
  ) {}

  /** The caller's voice, checked against the model the client named. */
  async voiceFor(account: Account, voiceName: string, model: string): Promise<VoiceRecord> {
    const voice = await this.repository.findVoice(account.id, voiceName);
    if (!voice) throw new VoiceNotFound(voiceName);
    if (voice.targetModel !== model) throw new ModelMismatch(voice.name, voice.targetModel, model);
    return voice;
  }

  async speak(request: SpeechRequest): Promise<Speech> {
    if (request.text.trim().length === 0) throw new InvalidField('text', 'is empty');
    if (request.text.length > speechLimits.maxTextCharacters) {
      throw new InvalidField('text', `must be at most ${speechLimits.maxTextCharacters} characters (got ${request.text.length})`);
    }
    const voice = await this.voiceFor(request.account, request.voiceName, request.model);
    const language = request.language ?? voice.language ?? guessLanguage(request.text);
    const engine = this.engines.forModel(voice.targetModel, language);
    const sentences = splitSentences(normaliseText(request.text, language), language);
    if (sentences.length === 0) throw new InvalidField('text', 'has nothing to speak (no letters or digits)');
    const prompt = await this.prompts.promptFor(voice, engine);
    const now = this.clock.now();
    const characters = [...request.text].length;
    // Written once the first audio is out (SQLite's fsync runs on this thread and must not
    // delay it); the stream does not end before both are durable.
    const record = () =>
      Promise.all([
        this.repository.touchVoice(voice.name, now),
        this.repository.recordUsage({ accountId: request.account.id, kind: 'speech.characters', count: characters, voice: voice.name, at: now }),
      ]);
    const options = { language, speechRate: request.speechRate, pitchRate: request.pitchRate, volume: request.volume, signal: request.signal };
    const marked = this.markedSpeech(engine, prompt, sentences, options, { accountId: request.account.id, voiceName: voice.name });
    const audio = this.logged(
      recordingAfterFirstChunk(marked, record),
      { engine: engine.id, voice: voice.name, characters, sentences: sentences.length, sampleRate: engine.sampleRate },
    );
    return { voice, engine, sampleRate: engine.sampleRate, characters, sentences, audio };
  }

  /** The sentences spoken one after another, crossfaded, and marked with the voice's watermark. */
  private markedSpeech(engine: Engine, prompt: VoicePrompt, sentences: string[], options: SynthesisOptions, identity: WatermarkIdentity): AsyncIterable<Float32Array> {
    const spoken = crossfaded(sentences.map((sentence) => () => engine.synthesize(sentence, prompt, options)), Math.round(speechLimits.crossfadeSeconds * engine.sampleRate));
    return this.watermark ? watermarked(spoken, this.watermark.markFor(identity, engine.sampleRate), engine.sampleRate) : spoken;
  }

  /**
   * `prompt`'s voice speaking two sentences through the path of a request (text normalised and
   * split, the engine, crossfades, the watermark), for no one and recording nothing: run before
   * a fresh server listens, so its first request runs code the JIT has seen. On a 2-core AMD
   * EPYC that request's first audio took 72 ms without this and the engine's rehearsal, 20-32 ms
   * (once 64) with them, where a warm server's takes 10-11 (`bench:synthesis`, fresh install).
   */
  rehearse(engine: Engine, prompt: VoicePrompt): AsyncIterable<Float32Array> {
    const language = 'en';
    const sentences = splitSentences(normaliseText('The rehearsal starts at 9:30, on May 2nd. It lasts 15 minutes.', language), language);
    return this.markedSpeech(engine, prompt, sentences, { language }, { accountId: 'rehearsal', voiceName: 'rehearsal' });
  }

  /** One log line (and one metrics record) per synthesis: the engine that spoke, time to first chunk, real-time factor. */
  private async *logged(audio: AsyncIterable<Float32Array>, fields: { engine: string; voice: string; characters: number; sentences: number; sampleRate: number }): AsyncGenerator<Float32Array> {
    const started = performance.now();
    let firstChunkMs: number | null = null;
    let samples = 0;
    let outcome: SynthesisRecord['outcome'] = 'aborted';
    try {
      for await (const chunk of audio) {
        firstChunkMs ??= performance.now() - started;
        samples += chunk.length;
        yield chunk;
      }
      outcome = 'done';
    } catch (error) {
      outcome = 'failed';
      throw error;
    } finally {
      const audioSeconds = samples / fields.sampleRate;
      const elapsedSeconds = (performance.now() - started) / 1000;
      const record: SynthesisRecord = {
        ...fields,
        outcome,
        firstChunkMs: firstChunkMs === null ? null : Math.round(firstChunkMs * 10) / 10,
        audioSeconds,
        rtf: audioSeconds > 0 ? elapsedSeconds / audioSeconds : null,
      };
      this.logger.info(record, 'synthesis');
      this.observe(record);
    }
  }
}

/** `audio`, starting `record` after its first chunk; ends only once `record` has succeeded. */
async function* recordingAfterFirstChunk(audio: AsyncIterable<Float32Array>, record: () => Promise<unknown>): AsyncGenerator<Float32Array> {
  let recorded: Promise<unknown> | null = null;
  try {
    for await (const chunk of audio) {
      yield chunk;
      if (!recorded) {
        // On a later turn of the event loop: the socket writes of this chunk go out first.
        recorded = new Promise((resolve) => setImmediate(resolve)).then(record);
        recorded.catch(() => undefined);
      }
    }
  } finally {
    // A stream stopped early (abort, client gone) still counts as a use.
    recorded ??= record();
    await recorded;
  }
}

function concat(first: Float32Array, second: Float32Array): Float32Array {
  if (first.length === 0) return second;
  const joined = new Float32Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}

/**
 * Plays the sentences' streams one after another, crossfading each join over `fadeSamples`.
 * Only the last `fadeSamples` of the audio so far are held back (until the next chunk or the
 * end), so the first audio is not delayed.
 */
export async function* crossfaded(streams: (() => AsyncIterable<Float32Array>)[], fadeSamples: number): AsyncGenerator<Float32Array> {
  let tail: Float32Array = new Float32Array(0);
  for (const open of streams) {
    // The start of this sentence, gathered until it is as long as the tail it fades into.
    let head: Float32Array | null = tail.length > 0 ? new Float32Array(0) : null;
    for await (const chunk of open()) {
      let fresh = chunk;
      if (head !== null) {
        head = concat(head, chunk);
        if (head.length < tail.length) continue;
        const mixed = head.slice();
        const overlap = tail.length;
        for (let i = 0; i < overlap; i += 1) {
          const weight = (i + 1) / (overlap + 1);
          mixed[i] = tail[i]! * (1 - weight) + mixed[i]! * weight;
        }
        fresh = mixed;
        tail = new Float32Array(0);
        head = null;
      }
      const joined = concat(tail, fresh);
      const keep = Math.min(fadeSamples, joined.length);
      tail = joined.slice(joined.length - keep);
      if (joined.length > keep) yield joined.subarray(0, joined.length - keep);
    }
    // A sentence shorter than the fade simply follows the tail.
    if (head !== null) tail = concat(tail, head);
  }
  if (tail.length > 0) yield tail;
}
