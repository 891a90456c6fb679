import { rm } from 'node:fs/promises';
import type { IntakeResult, ReferenceIntake } from '../audio/intake.js';
import { referenceSampleRate } from '../audio/intake.js';
import type { Audio } from '../audio/types.js';
import { encodeWav } from '../audio/wav.js';
import type { Clock } from '../clock.js';
import type { Transcriber } from '../audio/asr/transcriber.js';
import type { Engine } from '../engines/engine.js';
import type { EngineRouter } from '../engines/router.js';
import { ConsentRequired, InvalidField, QuotaExceeded, TranscriptRequired, VoiceNotFound } from '../errors.js';
import type { BlobStore } from '../store/blobs.js';
import type { Account, Repository, VoiceAuditEntry, VoicePage, VoiceRecord } from '../store/repository.js';
import { makeVoiceName } from './naming.js';
import type { VoicePrompts } from './prompts.js';
import type { ConsentMethod, ConsentRecord, ConsentRequirement, Language, TargetModel } from './rules.js';
import type { SpeakerChecks } from './speaker-check.js';
import { checkReferenceText } from './text-check.js';

export interface CreateVoiceRequest {
  targetModel: TargetModel;
  preferredName: string;
  audioData: string;
  /** The field name `audioData` came from, for error messages. */
  audioField: string;
  text: string | null;
  language: Language | null;
  /** `audioData`: spoken consent's audio (a data URL or URL), verified against the reference. */
  consent: { method: ConsentMethod; statement: string; givenBy: string | null; audioData: string | null } | null;
  /** Who asks (an API key's prefix), for the audit trail. */
  actor: string;
}

export interface EnrollmentRules {
  /** Most voices one account may hold. */
  quota: number;
  /** Refuse creates that carry no consent record (`any`), or no verified spoken consent (`spoken`). */
  requireConsent: ConsentRequirement;
}

export interface CreatedVoice {
  voice: VoiceRecord;
  fallbackReason: string | null;
}

const originalExtensions: Record<string, string> = { 'audio/wav': 'wav', 'audio/mpeg': 'mp3', 'audio/mp4': 'm4a' };

/**
 * Creating, listing and deleting an account's voices, with quota and durable storage. A
 * create answers once the voice is durable; the engine's analysis of the reference runs
 * after it (see VoicePrompts), so enrollment costs about what reading the audio costs.
 */
export class VoiceService {
  constructor(
    private readonly repository: Repository,
    private readonly blobs: BlobStore,
    private readonly intake: ReferenceIntake,
    private readonly engines: EngineRouter,
    /** Where the engine's analysis of a new voice runs, after the create has answered. */
    private readonly prompts: VoicePrompts,
    private readonly clock: Clock,
    private readonly rules: EnrollmentRules,
    /** Checks `text` against the speech; null when no recognizer is installed. */
    private readonly transcriber: Transcriber | null,
    /** Told of each new voice once it is stored (e.g. to prepare its watermark before its first synthesis). */
    private readonly onCreated: (voice: VoiceRecord) => void = () => undefined,
    /** One voice per reference and spoken-consent verification; null without the speaker encoder. */
    private readonly speakerChecks: SpeakerChecks | null = null,
  ) {}

  async create(account: Account, request: CreateVoiceRequest): Promise<CreatedVoice> {
    // Cheap early refusal; the insert below re-checks atomically.
    const held = await this.repository.countVoices(account.id);
    if (held >= this.rules.quota) throw new QuotaExceeded(this.rules.quota, held);
    const { consent } = request;
    if (this.rules.requireConsent === 'any' && consent === null) throw new ConsentRequired();
    if (this.rules.requireConsent === 'spoken' && (consent?.method !== 'spoken' || consent.audioData === null)) throw new ConsentRequired(true);
    if (consent?.audioData && this.speakerChecks === null) {
      throw new InvalidField('input.consent.audio', 'cannot be verified: this server has no speaker encoder installed (timbre models pull speaker-encoder)');
    }

    const originalFile = this.blobs.temporaryPath();
    const blobKeys: string[] = [];
    try {
      const found = await this.intake.find(request.audioField, request.audioData, originalFile);
      // The speaker checks run on the encoder's thread, while the reference is cut here and the
      // files are written; the voice is stored only once they have answered, since they may refuse
      // it. They start before the cut, which may refuse the upload itself: then their work is wasted.
      const speakerVerdict = this.speakerChecks?.check(
        found,
        consent?.audioData ? { statement: consent.statement, audioData: consent.audioData } : null,
        request.language,
        this.blobs.temporaryPath(),
      );
      speakerVerdict?.catch(() => undefined);
      const prepared: IntakeResult = this.intake.prepare(found);
      const engine = this.engines.forModel(request.targetModel, request.language);
      // An engine that needs the transcript refuses the create without one, so it is heard now.
      const transcript = this.transcriptFor(engine, request, prepared.speech16k);
      transcript.catch(() => undefined);
      const fallbackReasons = [...prepared.fallbackReasons];
      if (request.text !== null) {
        const checked = await checkReferenceText(request.text, request.language, prepared.speech16k, this.transcriber);
        if (checked.fallbackReason !== null) fallbackReasons.push(checked.fallbackReason);
      }
      const now = this.clock.now();
      const name = makeVoiceName(request.preferredName, now);
      const originalBlob = `${name}/original.${originalExtensions[prepared.originalMediatype] ?? 'bin'}`;
      const referenceBlob = `${name}/reference.wav`;
      // Both files are durable before the row exists, and the row is committed before the
      // API answers: an acknowledged voice is whole; a crash in between leaves orphan files
      // that the start-up sweep removes.
      // Written side by side (each waits on its own fsyncs); both settle before a failure is
      // cleaned up, so no file lands after its removal.
      blobKeys.push(originalBlob, referenceBlob);
      const written = await Promise.allSettled([this.blobs.adopt(originalBlob, originalFile), this.blobs.put(referenceBlob, encodeWav(prepared.reference))]);
      for (const outcome of written) if (outcome.status === 'rejected') throw outcome.reason;
      const verdict = await speakerVerdict;
      const heard = await transcript;
      if (engine.needsTranscript && !heard) throw new TranscriptRequired(engine.id, request.language);
      // A prompt that holds a transcript heard now is made before the voice is stored: the voice
      // keeps only the client's `text`, so that prompt could not be made again later (it is
      // cheap: the reference and its transcript). Every other analysis follows the answer.
      const promptNow = engine.needsTranscript ? await engine.prepareVoice(prepared.reference, heard, request.language) : null;
      if (verdict?.doubt) fallbackReasons.push(verdict.doubt);
      const verification = verdict?.verification;
      const voice: VoiceRecord = {
        name,
        accountId: account.id,
        preferredName: request.preferredName,
        targetModel: request.targetModel,
        language: request.language,
        referenceText: request.text,
        createdAt: now,
        modifiedAt: now,
        lastUsedAt: now,
        speechSeconds: prepared.speechSeconds,
        fallbackReason: fallbackReasons.length > 0 ? fallbackReasons.join('; ') : null,
        originalBlob,
        originalMediatype: prepared.originalMediatype,
        referenceBlob,
        referenceSampleRate,
        voicePrompt: promptNow ? JSON.stringify(promptNow) : null,
        consent: consent
          ? JSON.stringify({ method: consent.method, statement: consent.statement, givenBy: consent.givenBy, recordedAt: now, accountId: account.id, ...(verification ? { verification } : {}) } satisfies ConsentRecord)
          : null,
      };
      const outcome = await this.repository.insertVoiceWithinQuota(voice, this.rules.quota, request.actor);
      if (!outcome.inserted) throw new QuotaExceeded(this.rules.quota, outcome.voiceCount);
      // The engine analyses the reference now that the voice is durable, so synthesis never has to.
      if (!promptNow) this.prompts.prepareInBackground(voice, engine, () => engine.prepareVoice(prepared.reference, heard, request.language));
      this.onCreated(voice);
      return { voice, fallbackReason: voice.fallbackReason };
    } catch (error) {
      await rm(originalFile, { force: true });
      await Promise.all(blobKeys.map((key) => this.blobs.delete(key)));
      throw error;
    }
  }

  /**
   * A create's work once, on a generated 20 s upload, storing nothing: run before the server
   * listens, so the first create does not pay for V8 compiling its path, ffmpeg's first start
   * from the launcher, or the VAD's and the encoder's first runs at an upload's full length.
   */
  async rehearse(): Promise<void> {
    const seconds = 20;
    const upload = encodeWav(rehearsalSignal(seconds));
    const originalFile = this.blobs.temporaryPath();
    try {
      const found = await this.intake.find('rehearsal', `data:audio/wav;base64,${upload.toString('base64')}`, originalFile);
      // The VAD hears no speech in a tone; the cut and the checks are told it all is, so they
      // run at the length a real upload gives them.
      const speaking = { ...found, speechSpans: [{ startSeconds: 0, endSeconds: seconds }] };
      const checked = this.speakerChecks?.check(speaking, null, null, this.blobs.temporaryPath());
      // Awaited below; if the cut throws first, its failure is not left unhandled.
      checked?.catch(() => undefined);
      encodeWav(this.intake.prepare(speaking).reference);
      await checked;
    } finally {
      await rm(originalFile, { force: true });
    }
  }

  /** The reference's transcript: the client's `text`, else (for an engine that needs one) English ASR where installed. */
  private async transcriptFor(engine: Engine, request: CreateVoiceRequest, speech16k: Float32Array[]): Promise<string | null> {
    if (request.text !== null || !engine.needsTranscript || this.transcriber === null) return request.text;
    if (request.language !== null && request.language !== 'en') return null;
    const heard: string[] = [];
    for (const piece of speech16k) heard.push((await this.transcriber.transcribe(piece)).trim());
    const transcript = heard.filter((part) => part.length > 0).join(' ');
    return transcript.length > 0 ? transcript : null;
  }

  /** What a create must carry, and whether spoken consent can be verified here. */
  consentPolicy(): { required: ConsentRequirement; spokenVerification: boolean } {
    return { required: this.rules.requireConsent, spokenVerification: this.speakerChecks !== null };
  }

  list(account: Account, pageIndex: number, pageSize: number): Promise<VoicePage> {
    return this.repository.listVoices(account.id, pageIndex * pageSize, pageSize);
  }

  /** The stored reference (the trimmed, normalised speech the voice was made from), as WAV. */
  async referenceAudio(account: Account, name: string): Promise<Buffer> {
    const voice = await this.repository.findVoice(account.id, name);
    if (!voice) throw new VoiceNotFound(name);
    return this.blobs.get(voice.referenceBlob);
  }

  /** Deletes the voice and its audio; its audit entry stays. */
  async delete(account: Account, name: string, actor: string): Promise<void> {
    const removed = await this.repository.deleteVoice(account.id, name, actor, this.clock.now());
    if (!removed) throw new VoiceNotFound(name);
    await this.removeFiles(removed);
  }

  /** The account's audit trail (creates, deletes, expiries), newest first. */
  audit(account: Account, limit: number): Promise<VoiceAuditEntry[]> {
    return this.repository.listVoiceAudit(account.id, limit);
  }

  async removeFiles(voice: VoiceRecord): Promise<void> {
    await Promise.all([this.blobs.delete(voice.originalBlob), this.blobs.delete(voice.referenceBlob)]);
  }

  /** Removes files no voice refers to (left by a crash mid-create) older than `graceMs`. */
  async sweepOrphans(graceMs: number): Promise<number> {
    const referenced = await this.repository.referencedBlobKeys();
    return this.blobs.sweep((key) => referenced.has(key), graceMs, this.clock.now());
  }
}

/** A 48 kHz tone of a voice's pitch, its loudness moving slowly: an upload no refusal catches before the VAD. */
function rehearsalSignal(seconds: number): Audio {
  const sampleRate = 48000;
  const samples = new Float32Array(seconds * sampleRate);
  for (let i = 0; i < samples.length; i += 1) {
    const time = i / sampleRate;
    samples[i] = 0.1 * (0.6 + 0.4 * Math.sin(2 * Math.PI * 0.5 * time)) * (Math.sin(2 * Math.PI * 140 * time) + 0.5 * Math.sin(2 * Math.PI * 280 * time));
  }
  return { samples, sampleRate };
}
