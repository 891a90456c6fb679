import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { resample } from '../src/audio/encode.js';
import { resamplers } from '../src/audio/resampler.js';
import { collectAudio } from '../src/audio/types.js';
import { detectWatermark, StreamWatermarker, WatermarkKey } from '../src/audio/watermark.js';
import type { VoicePrompt } from '../src/engines/engine.js';
import type { PreviewEngine } from '../src/engines/preview/preview-engine.js';
import { normaliseForComparison, wordErrorRate } from '../src/voices/text-check.js';
import { audioPath, createBody, dataUrl, postJson, startTestServer, type TestServer } from './helpers.js';
import { timbreBin } from './process.js';

// The watermark: every output marked, detected after mp3 / opus at 64 kbps, 16 kHz, gain
// changes and 3 s excerpts; unmarked audio not flagged; the transcript unchanged.
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'timbre-watermark-'));
let server: TestServer;
let key: WatermarkKey;
let accountId = '';

const texts = [
  'The weather was calm this morning, so the fishermen left the harbour early and came back with full nets.',
  'Please send the quarterly report to the finance team before Thursday, and copy me on the message.',
  'In the old library, a quiet reader turned the pages of a map that nobody had opened for a hundred years.',
  'Our train leaves at a quarter past nine from platform four; bring a coat, because the north is cold.',
];

/** Decodes any file to 16 kHz mono float with ffmpeg. */
function decode16k(file: string): Float32Array {
  const raw = execFileSync(ffmpegPath, ['-v', 'error', '-i', file, '-f', 'f32le', '-ac', '1', '-ar', '16000', 'pipe:1'], { maxBuffer: 1 << 28 });
  return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4).slice();
}

/** ffmpeg from WAV bytes to another file with `args`, decoded back at 16 kHz. */
function transformed(wav: Buffer, args: string[], extension: string): Float32Array {
  const input = join(scratch, 'in.wav');
  const output = join(scratch, `out.${extension}`);
  writeFileSync(input, wav);
  execFileSync(ffmpegPath, ['-v', 'error', '-y', '-i', input, ...args, output]);
  return decode16k(output);
}

const transformations: Record<string, { args: string[]; extension: string }> = {
  'mp3 64 kbps': { args: ['-c:a', 'libmp3lame', '-b:a', '64k'], extension: 'mp3' },
  'opus 64 kbps': { args: ['-c:a', 'libopus', '-b:a', '64k'], extension: 'ogg' },
  'resampled to 16 kHz': { args: ['-ar', '16000'], extension: 'wav' },
  'gain -6 dB': { args: ['-af', 'volume=0.5'], extension: 'wav' },
  'gain +4 dB': { args: ['-af', 'volume=1.6'], extension: 'wav' },
};

async function speakWav(voice: string, text: string, apiKey = server.key): Promise<Buffer> {
  const response = await postJson(server, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice, input: text, response_format: 'wav' }, {}, apiKey);
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

async function detectApi(data: string, apiKey = server.key): Promise<{ status: number; body: Record<string, any> }> {
  const response = await postJson(server, '/v1/watermark/detect', { audio: { data } }, {}, apiKey);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const voices: string[] = [];

before(async () => {
  server = await startTestServer();
  key = server.running.watermark!;
  accountId = (await server.running.keys.authenticate(server.key))!.id;
  for (const file of ['low.wav', 'high.wav', 'human-en.wav']) {
    const created = await server.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: file.split('.')[0]!.replace('-', '') }, dataUrl(file)));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    voices.push(created.body.output.voice);
  }
});
after(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('watermark: robust detection of every output', () => {
  it('finds the mark and the voice in >= 99 % of 3 s excerpts after each transformation', async (t) => {
    let trials = 0;
    let detected = 0;
    let identified = 0;
    const perTransformation: Record<string, number[]> = {};
    let offsetSeed = 7;
    for (const [index, voice] of voices.entries()) {
      for (const text of texts.slice(index, index + 3).concat(index === 0 ? [texts[3]!] : [])) {
        const wav = await speakWav(voice, text);
        for (const [name, { args, extension }] of Object.entries(transformations)) {
          const audio = transformed(wav, args, extension);
          for (let excerpt = 0; excerpt < 3; excerpt += 1) {
            offsetSeed = (offsetSeed * 48271) % 2147483647;
            const start = offsetSeed % Math.max(1, audio.length - 48000);
            const found = detectWatermark(audio.subarray(start, start + 48000), key, voices.map((voiceName) => ({ accountId, voiceName })));
            trials += 1;
            if (found.watermarked) detected += 1;
            if (found.identity?.voiceName === voice) identified += 1;
            (perTransformation[name] ??= []).push(found.presenceScore);
          }
        }
      }
    }
    for (const [name, scores] of Object.entries(perTransformation)) t.diagnostic(`${name}: lowest score ${Math.min(...scores).toFixed(1)} (threshold 6.5) over ${scores.length} excerpts`);
    t.diagnostic(`detected ${detected} / ${trials}, voice named ${identified} / ${trials}`);
    assert.ok(trials >= 100, `${trials} trials`);
    assert.ok(detected / trials >= 0.99, `detected ${detected} of ${trials}`);
    assert.ok(identified / trials >= 0.99, `identified ${identified} of ${trials}`);
  });

  it('flags <= 0.1 % of 3 s excerpts of unmarked audio (test references, bare synthesizer output)', async (t) => {
    const engine = server.running.engine as PreviewEngine;
    const sources: Float32Array[] = [];
    for (const file of ['low', 'high', 'fast', 'slow', 'human-en', 'human-long', 'long', 'bench20', 'narrowband', 'stereo48k']) sources.push(decode16k(audioPath(`${file}.wav`)));
    for (const text of texts) {
      const bare = await collectAudio(engine.synthesizeBare(`${text} ${text} ${text}`), engine.sampleRate);
      sources.push(await resample(bare, 16000));
    }
    let excerpts = 0;
    let flagged = 0;
    let highest = -Infinity;
    for (const samples of sources) {
      for (let start = 0; start + 48000 <= samples.length; start += 4000) {
        const found = detectWatermark(samples.subarray(start, start + 48000), key);
        excerpts += 1;
        if (found.watermarked) flagged += 1;
        highest = Math.max(highest, found.presenceScore);
      }
    }
    t.diagnostic(`flagged ${flagged} of ${excerpts} unmarked excerpts; highest score ${highest.toFixed(2)} (threshold 6.5)`);
    assert.ok(excerpts >= 1000, `${excerpts} excerpts`);
    assert.ok(flagged / excerpts <= 0.001, `${flagged} of ${excerpts} flagged`);
  });

  // Moonshine-tiny on espeak-ng speech is chaotic: a 0.2 dB gain change alone rewrites up to
  // a fifth of the words of some outputs (measured 0-22 % per sentence, 1-4 % on average).
  // "Unchanged" is therefore held against that floor: the mark changes transcripts no more
  // than inaudible changes do (within 5 points), and the marked outputs are understood as well
  // as the unmarked ones (mean WER against the text within 5 points). Both sides are averaged
  // over several changes of each output: with one mark and one gain change per output the
  // comparison swung by 4 points from run to run (the mark's share measured 4.2-8.4 %, the
  // gain change's 2.5-7.1 %) and failed one clean-clone run. Every figure is printed.
  it('is quiet (mark-to-signal about -27 dB) and changes Moonshine\'s transcript no more than inaudible changes do', async (t) => {
    const engine = server.running.engine as PreviewEngine;
    const transcriber = server.running.transcriber!;
    const hear = async (samples: Float32Array) => normaliseForComparison(await transcriber.transcribe(await resample({ samples, sampleRate: engine.sampleRate }, 16000)));
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const inaudible: Record<string, (samples: Float32Array) => Float32Array> = {
      'gain -0.2 dB': (samples) => samples.map((sample) => sample * 0.977),
      'gain +0.2 dB': (samples) => samples.map((sample) => sample * 1.023),
      'one sample later': (samples) => {
        const delayed = new Float32Array(samples.length);
        delayed.set(samples.subarray(0, samples.length - 1), 1);
        return delayed;
      },
    };
    // Each output marked as each test voice: one presence sequence, three identity sequences.
    const marks = await Promise.all(voices.map((voiceName) => key.markFor({ accountId, voiceName }, engine.sampleRate)));
    const figures = { plain: [] as number[], marked: [] as number[], markChange: [] as number[], inaudibleChange: [] as number[] };
    for (const [index, voice] of voices.entries()) {
      const record = (await server.preparedVoice(accountId, voice))!;
      const prompt = JSON.parse(record.voicePrompt!) as VoicePrompt;
      for (const text of texts) {
        const plain = (await collectAudio(engine.synthesize(text, prompt, { language: 'en' }), engine.sampleRate)).samples;
        const truth = normaliseForComparison(text);
        const heardPlain = await hear(plain);
        figures.plain.push(wordErrorRate(truth, heardPlain));
        for (const [markIndex, mark] of marks.entries()) {
          const marked = new StreamWatermarker(mark, engine.sampleRate).process(plain);
          if (markIndex === index) {
            let signal = 0;
            let added = 0;
            for (let i = 0; i < plain.length; i += 1) {
              signal += plain[i]! ** 2;
              added += (marked[i]! - plain[i]!) ** 2;
            }
            const snr = 10 * Math.log10(added / signal);
            assert.ok(snr < -24 && snr > -34, `mark-to-signal ${snr} dB`);
            if (figures.marked.length === 0) t.diagnostic(`mark-to-signal ${snr.toFixed(1)} dB`);
          }
          const heardMarked = await hear(marked);
          figures.marked.push(wordErrorRate(truth, heardMarked));
          figures.markChange.push(wordErrorRate(heardPlain, heardMarked));
        }
        for (const change of Object.values(inaudible)) figures.inaudibleChange.push(wordErrorRate(heardPlain, await hear(change(plain))));
      }
    }
    const percent = (values: number[]) => `${(mean(values) * 100).toFixed(1)} %`;
    t.diagnostic(`mean WER against the text: unmarked ${percent(figures.plain)}, marked ${percent(figures.marked)} (${figures.plain.length} outputs, ${figures.marked.length} marked)`);
    t.diagnostic(`words changed by the mark ${percent(figures.markChange)}; by inaudible changes (${Object.keys(inaudible).join(', ')}) ${percent(figures.inaudibleChange)}`);
    assert.ok(mean(figures.marked) <= mean(figures.plain) + 0.05, 'the mark does not make the speech harder to understand');
    assert.ok(mean(figures.markChange) <= mean(figures.inaudibleChange) + 0.05, 'the mark changes transcripts no more than inaudible changes do');
  });
});

describe('POST /v1/watermark/detect and timbre watermark detect', () => {
  it('names the voice and account to their own account only, and says no for unmarked audio', async () => {
    const wav = await speakWav(voices[0]!, texts[0]!);
    const mp3 = join(scratch, 'marked.mp3');
    writeFileSync(join(scratch, 'marked.wav'), wav);
    execFileSync(ffmpegPath, ['-v', 'error', '-y', '-i', join(scratch, 'marked.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', mp3]);
    const data = `data:audio/mpeg;base64,${readFileSync(mp3).toString('base64')}`;
    const own = await detectApi(data);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.watermarked, true);
    assert.equal(own.body.voice, voices[0]);
    assert.equal(own.body.account, 'default');
    assert.ok(own.body.confidence > 0.999 && own.body.confidence <= 1);
    assert.match(own.body.request_id, /^[0-9a-f-]{36}$/);

    const stranger = await server.running.keys.issue('stranger');
    const theirs = await detectApi(data, stranger.key);
    assert.deepEqual({ ...theirs.body, request_id: undefined, confidence: undefined }, { watermarked: true, voice: null, account: null, request_id: undefined, confidence: undefined });

    const unmarked = await detectApi(dataUrl('human-en.wav'));
    assert.equal(unmarked.body.watermarked, false);
    assert.equal(unmarked.body.voice, null);

    // A deleted voice is still named: the audit trail keeps its name.
    const spare = (await server.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'spare' }, dataUrl('slow.wav')))).body.output.voice as string;
    const spareWav = await speakWav(spare, texts[1]!);
    await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'delete', voice: spare } });
    const afterDelete = await detectApi(`data:audio/wav;base64,${spareWav.toString('base64')}`);
    assert.equal(afterDelete.body.voice, spare);
  });

  it('reads opus too, and refuses bad input with DashScope errors', async () => {
    const wav = await speakWav(voices[1]!, texts[2]!);
    writeFileSync(join(scratch, 'opus-in.wav'), wav);
    execFileSync(ffmpegPath, ['-v', 'error', '-y', '-i', join(scratch, 'opus-in.wav'), '-c:a', 'libopus', '-b:a', '64k', join(scratch, 'marked.ogg')]);
    const opus = await detectApi(`data:audio/ogg;base64,${readFileSync(join(scratch, 'marked.ogg')).toString('base64')}`);
    assert.equal(opus.body.voice, voices[1]);
    const missing = await postJson(server, '/v1/watermark/detect', { audio: {} });
    assert.equal(missing.status, 400);
    const body = (await missing.json()) as { code: string; message: string };
    assert.equal(body.code, 'InvalidParameter');
    assert.match(body.message, /audio\.data/);
    const garbage = await detectApi('data:audio/wav;base64,AAAA');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.code, 'Audio.PreprocessError');
    assert.equal((await postJson(server, '/v1/watermark/detect', { audio: { data: dataUrl('low.wav') } }, {}, null)).status, 401);
  });

  it('timbre watermark detect FILE: exit 0 and the voice when marked, 1 when not', async () => {
    const file = join(scratch, 'cli.wav');
    writeFileSync(file, await speakWav(voices[2]!, texts[3]!));
    const env = { ...process.env, TIMBRE_URL: server.url, TIMBRE_API_KEY: server.key };
    const marked = await run(process.execPath, [timbreBin, 'watermark', 'detect', file], { env });
    assert.match(marked.stdout, new RegExp(`^watermarked: made with your voice ${voices[2]} \\(account default\\); confidence (0\\.99|1\\.0)`));
    const plain = await run(process.execPath, [timbreBin, 'watermark', 'detect', audioPath('low.wav'), '--json'], { env }).catch((error: { code: number; stdout: string }) => error);
    assert.equal((plain as { code: number }).code, 1);
    assert.equal(JSON.parse((plain as { stdout: string }).stdout).watermarked, false);
  });
});

describe('watermarking off (TIMBRE_WATERMARK=false)', () => {
  it('outputs carry no mark, and the detector says it cannot detect', async () => {
    const off = await startTestServer({ TIMBRE_WATERMARK: 'false' });
    try {
      assert.equal(off.running.watermark, null);
      const voice = (await off.enroll(createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'plain' }, dataUrl('low.wav')))).body.output.voice as string;
      const response = await postJson(off, '/v1/audio/speech', { model: 'qwen3-tts-vc-2026-01-22', voice, input: `${texts[0]} ${texts[1]}`, response_format: 'wav' });
      const file = join(scratch, 'off.wav');
      writeFileSync(file, Buffer.from(await response.arrayBuffer()));
      // The installation's key exists even while marking is off: the output does not carry it.
      const offKey = new WatermarkKey(Buffer.from(await off.running.repository.settingOrInsert('watermark_key', ''), 'base64'), resamplers);
      const account = (await off.running.keys.authenticate(off.key))!;
      const found = detectWatermark(decode16k(file), offKey, [{ accountId: account.id, voiceName: voice }]);
      assert.equal(found.watermarked, false, `score ${found.presenceScore}`);
      const refused = await postJson(off, '/v1/watermark/detect', { audio: { data: dataUrl('low.wav') } });
      assert.equal(refused.status, 403);
      assert.match(((await refused.json()) as { message: string }).message, /watermarking is turned off/);
    } finally {
      await off.stop();
    }
  });
});
