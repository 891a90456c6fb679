import { decodeWav } from '../audio/wav.js';
import type { Engine, VoicePrompt } from '../engines/engine.js';
import { VoicePreparing } from '../errors.js';
import type { BlobStore } from '../store/blobs.js';
import type { Repository, VoiceRecord } from '../store/repository.js';

/** Prompts of one voice for several engines, by engine id. */
interface StoredPrompts {
  prompts: Record<string, VoicePrompt>;
}

function promptsOf(stored: string | null): Record<string, VoicePrompt> {
  if (stored === null) return {};
  const parsed = JSON.parse(stored) as VoicePrompt | StoredPrompts;
  return 'prompts' in parsed ? (parsed as StoredPrompts).prompts : { [(parsed as VoicePrompt).engine]: parsed as VoicePrompt };
}

/** The stored column with `prompt` for `engineId` beside the others (a voice's first prompt is stored alone). */
function withPrompt(stored: string | null, engineId: string, prompt: VoicePrompt): string {
  return stored === null ? JSON.stringify(prompt) : JSON.stringify({ prompts: { ...promptsOf(stored), [engineId]: prompt } } satisfies StoredPrompts);
}

function isCurrent(prompt: VoicePrompt | undefined, engine: Engine): prompt is VoicePrompt {
  return prompt !== undefined && (prompt.version ?? 1) === (engine.promptVersion ?? 1);
}

const timedOut: unique symbol = Symbol('timed out');

export interface PromptPolicy {
  /** How long a synthesis waits for a preparation under way on this node before it is refused. */
  waitLimitMs: number;
}

/**
 * Each voice's engine prompts (what an engine analysed of the reference). A create answers
 * once the voice is durable and its prompt is prepared in the background here; a synthesis
 * that arrives first waits for that preparation (at most `waitLimitMs`), so it never speaks
 * with a half-made prompt. A voice with no current prompt for its engine (made on another
 * node, or before a restart, or by an older engine version) is prepared from its stored
 * reference when it first speaks, once however many syntheses ask at the same time.
 */
export class VoicePrompts {
  /** Preparations under way on this node, by voice and engine; each settles once its prompt is stored. */
  private readonly pending = new Map<string, Promise<VoicePrompt>>();

  constructor(
    private readonly repository: Repository,
    private readonly blobs: BlobStore,
    private readonly policy: PromptPolicy,
    private readonly onError: (error: unknown, voice: string, engine: string) => void = () => undefined,
  ) {}

  private key(voiceName: string, engine: Engine): string {
    return `${voiceName}\u0000${engine.id}`;
  }

  /**
   * Prepares `voice`'s prompt for `engine` with `prepare` (the reference still in memory) and
   * stores it. The voice must already be durable: a failure is logged and the first synthesis
   * prepares the prompt again from the stored reference.
   */
  prepareInBackground(voice: VoiceRecord, engine: Engine, prepare: () => Promise<VoicePrompt>): void {
    this.track(voice, engine, prepare).catch((error: unknown) => this.onError(error, voice.name, engine.id));
  }

  private track(voice: VoiceRecord, engine: Engine, prepare: () => Promise<VoicePrompt>): Promise<VoicePrompt> {
    const key = this.key(voice.name, engine);
    const preparation = (async () => {
      try {
        const prompt = await prepare();
        // Read again just before writing: another engine's prompt may have been stored meanwhile.
        const current = await this.repository.findVoice(voice.accountId, voice.name);
        if (current !== null) await this.repository.updateVoicePrompt(voice.name, withPrompt(current.voicePrompt, engine.id, prompt));
        return prompt;
      } finally {
        this.pending.delete(key);
      }
    })();
    this.pending.set(key, preparation);
    return preparation;
  }

  /** The voice's current prompt for `engine`: stored, or under way here (waited for), or prepared now from the stored reference. */
  async promptFor(voice: VoiceRecord, engine: Engine): Promise<VoicePrompt> {
    const stored = promptsOf(voice.voicePrompt)[engine.id];
    if (isCurrent(stored, engine)) return stored;
    const underWay = this.pending.get(this.key(voice.name, engine));
    // A failed background preparation is logged where it ran; this request prepares again below.
    if (underWay) {
      const prepared = await this.waitFor(voice.name, underWay.catch(() => null));
      if (prepared !== null) return prepared;
    }
    // The row read at the start of the request may predate a preparation that has since finished.
    const fresh = await this.repository.findVoice(voice.accountId, voice.name);
    const storedSince = fresh === null ? undefined : promptsOf(fresh.voicePrompt)[engine.id];
    if (isCurrent(storedSince, engine)) return storedSince;
    const again =
      this.pending.get(this.key(voice.name, engine)) ??
      this.track(voice, engine, async () => engine.prepareVoice(decodeWav(await this.blobs.get(voice.referenceBlob)), voice.referenceText, voice.language));
    return this.waitFor(voice.name, again);
  }

  private async waitFor<T>(voiceName: string, preparation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<typeof timedOut>((resolve) => {
      timer = setTimeout(() => resolve(timedOut), this.policy.waitLimitMs);
    });
    try {
      const outcome = await Promise.race([preparation, limit]);
      if (outcome === timedOut) throw new VoicePreparing(voiceName, this.policy.waitLimitMs);
      return outcome as T;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once no preparation of `voiceName` is under way on this node. */
  async settled(voiceName: string): Promise<void> {
    const prefix = `${voiceName}\u0000`;
    await Promise.all([...this.pending].filter(([key]) => key.startsWith(prefix)).map(([, preparation]) => preparation.catch(() => undefined)));
  }

  /** Resolves once every preparation under way has finished (before the store closes). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()].map((preparation) => preparation.catch(() => undefined)));
  }
}
