// The TypeScript SDK: every Timbre API, typed, one call per endpoint.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { errorFrom, TimbreApiError, TimbreConnectionError } from './errors.js';
import { RealtimeSession, type RealtimeOptions } from './realtime.js';

export { TimbreApiError, TimbreConnectionError, RealtimeSession, type RealtimeOptions };
export type { RealtimeEvent } from './realtime.js';

export interface TimbreClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  apiKey: string;
}

export type TargetModel = 'qwen3-tts-vc-realtime-2026-01-15' | 'qwen3-tts-vc-realtime-2025-11-27' | 'qwen3-tts-vc-2026-01-22';

export interface CreateVoiceOptions {
  /** A file path, the audio bytes, or a public http(s) URL. */
  audio: string | Buffer | URL;
  /** For bytes: audio/wav, audio/mpeg or audio/mp4 (guessed from the bytes when absent). */
  mediatype?: string;
  preferredName: string;
  targetModel?: TargetModel;
  text?: string;
  language?: string;
  /** The speaker's consent, kept with the voice (required where the server says so). */
  consent?: ConsentToSend;
}

export interface Consent {
  method: 'checkbox' | 'spoken' | 'attestation';
  statement: string;
  givenBy?: string;
}

/** Consent as sent at create: spoken consent may carry the speaker saying the statement. */
export interface ConsentToSend extends Consent {
  /** The speaker saying `statement` (method `spoken`): a file path, bytes or a public URL; the server checks the speaker and the words. */
  audio?: string | Buffer | URL;
}

/** What the server checked of spoken consent with audio. */
export interface ConsentVerification {
  speakerSimilarity: number;
  threshold: number;
  statementWordErrorRate: number | null;
  audioSha256: string;
}

export interface CreatedVoice {
  voice: string;
  targetModel: string;
  fallbackMode: boolean;
  fallbackReason: string | null;
  speechSeconds: number | null;
  requestId: string;
}

export interface VoiceInfo {
  voice: string;
  targetModel: string;
  language: string | null;
  gmtCreate: string;
  gmtModified: string;
  consent: RecordedConsent | null;
}

export type RecordedConsent = Consent & { gmtRecorded: string; verification?: ConsentVerification };

export interface AuditEntry {
  voice: string;
  event: 'created' | 'deleted' | 'expired';
  actor: string;
  gmtEvent: string;
  consent: RecordedConsent | null;
}

interface ConsentOnWire {
  method: Consent['method'];
  statement: string;
  given_by: string | null;
  gmt_recorded: string;
  verification?: { speaker_similarity: number; threshold: number; statement_word_error_rate: number | null; audio_sha256: string };
}

function consentFromWire(consent: ConsentOnWire | null | undefined): RecordedConsent | null {
  if (!consent) return null;
  const { verification } = consent;
  return {
    method: consent.method,
    statement: consent.statement,
    ...(consent.given_by ? { givenBy: consent.given_by } : {}),
    gmtRecorded: consent.gmt_recorded,
    ...(verification
      ? {
          verification: {
            speakerSimilarity: verification.speaker_similarity,
            threshold: verification.threshold,
            statementWordErrorRate: verification.statement_word_error_rate,
            audioSha256: verification.audio_sha256,
          },
        }
      : {}),
  };
}

export interface VoicePage {
  voices: VoiceInfo[];
  pageIndex: number;
  pageSize: number;
  totalCount: number;
}

export interface SynthesizeOptions {
  voice: string;
  text: string;
  model?: TargetModel;
  languageType?: string;
}

export interface SynthesizedAudio {
  /** The WAV file (24 kHz, 16-bit mono), downloaded from `url`. */
  wav: Buffer;
  url: string;
  id: string;
  expiresAt: number;
  characters: number;
  requestId: string;
}

const extensionTypes: Record<string, string> = { '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.m4a': 'audio/mp4', '.mp4': 'audio/mp4' };

function sniffMediatype(bytes: Buffer): string {
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF') return 'audio/wav';
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return 'audio/mp4';
  return 'audio/mpeg';
}

/** A Timbre (or DashScope-compatible) server, as one object. */
export class TimbreClient {
  readonly voices: VoicesApi;
  readonly speech: SpeechApi;
  readonly realtime: { connect: (options: RealtimeOptions) => Promise<RealtimeSession> };
  readonly watermark: WatermarkApi;

  constructor(readonly options: TimbreClientOptions) {
    this.voices = new VoicesApi(this);
    this.speech = new SpeechApi(this);
    this.watermark = new WatermarkApi(this);
    this.realtime = { connect: (realtime) => RealtimeSession.open(this.baseUrl, options.apiKey, realtime) };
  }

  get baseUrl(): string {
    return this.options.baseUrl.replace(/\/+$/, '');
  }

  /** One API call; error answers become TimbreApiError. */
  async request(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${this.options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new TimbreConnectionError(`cannot reach ${this.baseUrl}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
}

const customizationPath = '/api/v1/services/audio/tts/customization';

const outputExtensionTypes: Record<string, string> = { ...extensionTypes, '.ogg': 'audio/ogg', '.opus': 'audio/ogg', '.flac': 'audio/flac', '.aac': 'audio/aac', '.webm': 'audio/webm' };

/** `audio.data` for a file path, bytes or a public URL. */
async function audioData(audio: string | Buffer | URL, mediatype: string | undefined, types: Record<string, string>): Promise<string> {
  if (audio instanceof URL || (typeof audio === 'string' && /^https?:\/\//i.test(audio))) return String(audio);
  const bytes = typeof audio === 'string' ? await readFile(audio) : audio;
  const type = mediatype ?? (typeof audio === 'string' ? types[extname(audio).toLowerCase()] : undefined) ?? sniffMediatype(bytes);
  return `data:${type};base64,${bytes.toString('base64')}`;
}

export interface WatermarkVerdict {
  watermarked: boolean;
  /** The voice, only when it is one of the caller's own (live or deleted). */
  voice: string | null;
  account: string | null;
  confidence: number;
  requestId: string;
}

export class WatermarkApi {
  constructor(private readonly client: TimbreClient) {}

  /** Was this audio made by the server, and from which of the caller's voices? */
  async detect(audio: string | Buffer | URL, mediatype?: string): Promise<WatermarkVerdict> {
    const body = (await (await this.client.request('/v1/watermark/detect', { audio: { data: await audioData(audio, mediatype, outputExtensionTypes) } })).json()) as {
      watermarked: boolean;
      voice: string | null;
      account: string | null;
      confidence: number;
      request_id: string;
    };
    return { watermarked: body.watermarked, voice: body.voice, account: body.account, confidence: body.confidence, requestId: body.request_id };
  }
}

export class VoicesApi {
  constructor(private readonly client: TimbreClient) {}

  async create(options: CreateVoiceOptions): Promise<CreatedVoice> {
    const data = await audioData(options.audio, options.mediatype, extensionTypes);
    const input: Record<string, unknown> = {
      action: 'create',
      target_model: options.targetModel ?? 'qwen3-tts-vc-realtime-2026-01-15',
      preferred_name: options.preferredName,
      audio: { data },
    };
    if (options.text !== undefined) input.text = options.text;
    if (options.language !== undefined) input.language = options.language;
    const { consent } = options;
    if (consent !== undefined) {
      input.consent = {
        method: consent.method,
        statement: consent.statement,
        given_by: consent.givenBy ?? null,
        ...(consent.audio !== undefined ? { audio: await audioData(consent.audio, undefined, extensionTypes) } : {}),
      };
    }
    const body = (await (await this.client.request(customizationPath, { model: 'qwen-voice-enrollment', input })).json()) as {
      output: { voice: string; target_model: string; fallback_mode?: boolean; fallback_reason?: string; speech_seconds?: number };
      request_id: string;
    };
    return {
      voice: body.output.voice,
      targetModel: body.output.target_model,
      fallbackMode: body.output.fallback_mode ?? false,
      fallbackReason: body.output.fallback_reason ?? null,
      speechSeconds: body.output.speech_seconds ?? null,
      requestId: body.request_id,
    };
  }

  async list(options: { pageIndex?: number; pageSize?: number } = {}): Promise<VoicePage> {
    const body = (await (
      await this.client.request(customizationPath, { model: 'qwen-voice-enrollment', input: { action: 'list', page_index: options.pageIndex ?? 0, page_size: options.pageSize ?? 10 } })
    ).json()) as {
      output: {
        voice_list: { voice: string; target_model: string; language: string | null; gmt_create: string; gmt_modified: string; consent?: ConsentOnWire | null }[];
        page_index: number;
        page_size: number;
        total_count: number;
      };
    };
    return {
      voices: body.output.voice_list.map((voice) => ({
        voice: voice.voice,
        targetModel: voice.target_model,
        language: voice.language,
        gmtCreate: voice.gmt_create,
        gmtModified: voice.gmt_modified,
        consent: consentFromWire(voice.consent),
      })),
      pageIndex: body.output.page_index,
      pageSize: body.output.page_size,
      totalCount: body.output.total_count,
    };
  }

  /** Every voice, page after page. */
  async *iterate(pageSize = 100): AsyncGenerator<VoiceInfo> {
    for (let pageIndex = 0; ; pageIndex += 1) {
      const page = await this.list({ pageIndex, pageSize });
      yield* page.voices;
      if ((pageIndex + 1) * pageSize >= page.totalCount || page.voices.length === 0) return;
    }
  }

  async delete(voice: string): Promise<void> {
    await this.client.request(customizationPath, { model: 'qwen-voice-enrollment', input: { action: 'delete', voice } });
  }

  /** The account's audit trail (Timbre's addition), newest first. */
  async audit(limit = 100): Promise<AuditEntry[]> {
    const body = (await (await this.client.request(`/api/v1/voices/audit?limit=${limit}`, undefined)).json()) as {
      output: { entries: { voice: string; event: AuditEntry['event']; actor: string; gmt_event: string; consent: ConsentOnWire | null }[] };
    };
    return body.output.entries.map((entry) => ({ voice: entry.voice, event: entry.event, actor: entry.actor, gmtEvent: entry.gmt_event, consent: consentFromWire(entry.consent) }));
  }

  /** The reference speech the voice was made from, as WAV. */
  async reference(voice: string): Promise<Buffer> {
    return Buffer.from(await (await this.client.request(`/api/v1/voices/${encodeURIComponent(voice)}/reference`, undefined)).arrayBuffer());
  }
}

const generationPath = '/api/v1/services/aigc/multimodal-generation/generation';

export class SpeechApi {
  constructor(private readonly client: TimbreClient) {}

  private body(options: SynthesizeOptions): unknown {
    return { model: options.model ?? 'qwen3-tts-vc-2026-01-22', input: { text: options.text, voice: options.voice, language_type: options.languageType ?? 'Auto' } };
  }

  /** Synthesizes the whole text and downloads the WAV. */
  async synthesize(options: SynthesizeOptions): Promise<SynthesizedAudio> {
    const body = (await (await this.client.request(generationPath, this.body(options))).json()) as {
      output: { audio: { url: string; id: string; expires_at: number } };
      usage: { characters: number };
      request_id: string;
    };
    const file = await fetch(body.output.audio.url);
    if (!file.ok) throw await errorFrom(file);
    return { wav: Buffer.from(await file.arrayBuffer()), url: body.output.audio.url, id: body.output.audio.id, expiresAt: body.output.audio.expires_at, characters: body.usage.characters, requestId: body.request_id };
  }

  /** Streams 24 kHz 16-bit mono PCM chunks over SSE as they are made. */
  async *stream(options: SynthesizeOptions): AsyncGenerator<Buffer> {
    const response = await this.client.request(generationPath, this.body(options), { 'x-dashscope-sse': 'enable' });
    const decoder = new TextDecoder();
    let pending = '';
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(bytes, { stream: true });
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const event = /^event:(.*)$/m.exec(block)?.[1];
        const data = /^data:(.*)$/m.exec(block)?.[1];
        if (!data) continue;
        const parsed = JSON.parse(data) as { code?: string; message?: string; request_id?: string; output?: { audio?: { data?: string } } };
        if (event === 'error') throw new TimbreApiError(parsed.code ?? 'error', parsed.message ?? 'error', 200, parsed.request_id ?? null);
        const audio = parsed.output?.audio?.data;
        if (audio) yield Buffer.from(audio, 'base64');
      }
    }
  }

  /** The OpenAI-compatible endpoint: encoded audio in `format`. */
  async openai(options: { voice: string; input: string; model?: TargetModel; format?: 'mp3' | 'opus' | 'aac' | 'flac' | 'wav' | 'pcm'; speed?: number }): Promise<Buffer> {
    const response = await this.client.request('/v1/audio/speech', {
      model: options.model ?? 'qwen3-tts-vc-2026-01-22',
      input: options.input,
      voice: options.voice,
      response_format: options.format ?? 'mp3',
      speed: options.speed ?? 1,
    });
    return Buffer.from(await response.arrayBuffer());
  }
}
