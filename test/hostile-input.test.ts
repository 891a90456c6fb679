import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { randomSource } from '../src/onnx/graph-builder.js';
import { audioPath, createBody, createVoice, enrollmentPath, startTestServer, type TestServer } from './helpers.js';

// Hundreds of generated bad requests and bad audio; each must get a DashScope-shaped 4xx
// (code, message, request_id) and the server must stay healthy and correct after them.
let server: TestServer;
let fileVoice = '';
const random = randomSource(2026);

interface Case {
  label: string;
  path: string;
  body: string;
  contentType?: string;
}

function wav(samples: number, rate = 16000, channels = 1, declaredBytes?: number): Buffer {
  const data = Buffer.alloc(samples * 2 * channels);
  for (let i = 0; i < samples * channels; i += 1) data.writeInt16LE(Math.round(Math.sin(i / 7) * 8000), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(Math.min(0xffffffff, 36 + (declaredBytes ?? data.length)), 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2 * channels, 28);
  header.writeUInt16LE(2 * channels, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(declaredBytes ?? data.length, 40);
  return Buffer.concat([header, data]);
}

function create(data: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify(createBody(overrides, data));
}

function dataUrlOf(bytes: Buffer, mediatype: string): string {
  return `data:${mediatype};base64,${bytes.toString('base64')}`;
}

/** Bad audio: truncated, corrupted, mislabelled, lying headers, too long, noise. */
function badAudioCases(): Case[] {
  const cases: Case[] = [];
  const sources: [string, string][] = [
    ['low.wav', 'audio/wav'],
    ['low.mp3', 'audio/mpeg'],
    ['low.m4a', 'audio/mp4'],
  ];
  for (const [file, mediatype] of sources) {
    const bytes = readFileSync(audioPath(file));
    // Truncated to a header's worth, or well under the 3 s of speech a voice needs.
    for (const keep of [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.008, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]) {
      cases.push({ label: `${file} truncated to ${keep}`, path: enrollmentPath, body: create(dataUrlOf(bytes.subarray(0, Math.max(1, Math.floor(bytes.length * keep))), mediatype)) });
    }
    // Headers overwritten with noise (every magic and size field gone), the rest kept. (An
    // mp3 is a run of self-synchronising frames: it decodes past a corrupted start, rightly.)
    for (let seed = 0; seed < (mediatype === 'audio/mpeg' ? 0 : 30); seed += 1) {
      const corrupted = Buffer.from(bytes);
      for (let i = 0; i < Math.min(corrupted.length, 4096); i += 1) corrupted[i] = Math.floor(random() * 256);
      cases.push({ label: `${file} header corrupted #${seed}`, path: enrollmentPath, body: create(dataUrlOf(corrupted, mediatype)) });
    }
    // Labelled as another format.
    for (const [, other] of sources.filter(([, type]) => type !== mediatype)) {
      cases.push({ label: `${file} labelled ${other}`, path: enrollmentPath, body: create(dataUrlOf(Buffer.concat([Buffer.from('garbage!'), bytes.subarray(0, 2000)]), other)) });
    }
  }
  for (let seed = 0; seed < 110; seed += 1) {
    const noise = Buffer.from(Array.from({ length: 500 + Math.floor(random() * 20000) }, () => Math.floor(random() * 256)));
    cases.push({ label: `random bytes #${seed}`, path: enrollmentPath, body: create(dataUrlOf(noise, ['audio/wav', 'audio/mpeg', 'audio/mp4'][seed % 3]!)) });
  }
  // Headers that lie: huge declared sizes over little data, zero channels, absurd rates.
  for (const declared of [0xfffffff0, 0x7fffffff, 1e9, 0]) cases.push({ label: `wav declaring ${declared} bytes`, path: enrollmentPath, body: create(dataUrlOf(wav(16000, 16000, 1, declared), 'audio/wav')) });
  for (const rate of [1, 0, 4000000]) cases.push({ label: `wav at ${rate} Hz`, path: enrollmentPath, body: create(dataUrlOf(wav(8000, rate), 'audio/wav')) });
  cases.push({ label: 'wav with 0 channels', path: enrollmentPath, body: create(dataUrlOf(wav(8000, 16000, 0), 'audio/wav')) });
  // Durations far past the limit in a small upload (8 kHz, 9 minutes of a quiet tone).
  cases.push({ label: 'nine minutes of audio', path: enrollmentPath, body: create(dataUrlOf(wav(8000 * 540, 8000), 'audio/wav')) });
  return cases;
}

/** Bad transport: base64, data URLs, mediatypes, JSON shape and size, content types. */
function badRequestCases(): Case[] {
  const cases: Case[] = [];
  const good = readFileSync(audioPath('low.wav')).toString('base64');
  for (const data of [
    'data:audio/wav;base64,!!!!',
    'data:audio/wav;base64,A',
    `data:audio/wav;base64,${good.slice(0, 1001)}`,
    `data:audio/wav;base64,${good.replace(/A/g, '*').slice(0, 4000)}`,
    'data:audio/wav,notbase64',
    'data:;base64,AAAA',
    'data:audio/wav;base64,',
    'data:',
    `data:text/plain;base64,${good.slice(0, 400)}`,
    `data:image/png;base64,${good.slice(0, 400)}`,
    `data:audio/flac;base64,${good.slice(0, 400)}`,
    ' ',
    '\u0000',
    'javascript:alert(1)',
    '//evil.example/a.wav',
  ]) {
    cases.push({ label: `audio.data ${JSON.stringify(data.slice(0, 30))}`, path: enrollmentPath, body: create(data) });
  }
  const badValues: [string, unknown][] = [
    ['preferred_name', ''],
    ['preferred_name', 'x'.repeat(17)],
    ['preferred_name', 'émile'],
    ['preferred_name', '😀'],
    ['preferred_name', 'a b'],
    ['preferred_name', 'a\u200bb'],
    ['preferred_name', '\u202eevil'],
    ['preferred_name', 'nul\u0000name'],
    ['preferred_name', 42],
    ['preferred_name', null],
    ['preferred_name', ['a']],
    ['target_model', 'gpt-4o'],
    ['target_model', ''],
    ['target_model', 7],
    ['language', 'xx'],
    ['language', 'EN-us'],
    ['language', 3],
    ['text', 'x'.repeat(2001)],
    ['text', 12],
    ['audio', 'data:audio/wav;base64,AAAA'],
    ['audio', null],
    ['audio', { data: 5 }],
    ['audio', { url: 'http://x' }],
    ['consent', { method: 'telepathy', statement: 'yes' }],
    ['consent', 'yes'],
  ];
  for (const [field, value] of badValues) cases.push({ label: `input.${field} = ${JSON.stringify(value)?.slice(0, 20)}`, path: enrollmentPath, body: create(`data:audio/wav;base64,${good}`, { [field]: value }) });
  for (const envelope of [
    {},
    { model: 'qwen-voice-enrollment' },
    { model: 'qwen-voice-enrollment', input: 'create' },
    { model: 'qwen-voice-enrollment', input: { action: 'fly' } },
    { model: 'qwen-voice-enrollment', input: { action: 'delete' } },
    { model: 'qwen-voice-enrollment', input: { action: 'delete', voice: '../../etc/passwd' } },
    { model: 'qwen-voice-enrollment', input: { action: 'list', page_size: -1 } },
    { model: 'qwen-voice-enrollment', input: { action: 'list', page_size: 1e12 } },
    { model: 'qwen-voice-enrollment', input: { action: 'list', page_index: 'a' } },
    { model: 'other-model', input: { action: 'list' } },
    { model: 5, input: { action: 'list' } },
    [],
    'string',
    42,
    null,
  ]) {
    cases.push({ label: `envelope ${JSON.stringify(envelope).slice(0, 40)}`, path: enrollmentPath, body: JSON.stringify(envelope) });
  }
  for (const depth of [100, 1000, 10_000, 100_000]) cases.push({ label: `JSON nested ${depth} deep`, path: enrollmentPath, body: '{"model":"qwen-voice-enrollment","input":'.concat('['.repeat(depth), ']'.repeat(depth), '}') });
  cases.push({ label: 'JSON over the body limit', path: enrollmentPath, body: JSON.stringify({ model: 'qwen-voice-enrollment', input: { action: 'create', pad: 'x'.repeat(11 * 1024 * 1024) } }) });
  for (const broken of ['{', '{"model":', '{"model":"qwen-voice-enrollment",}', '\u0000\u0001', '{"a":"\\ud800"', 'null null', '']) cases.push({ label: `broken JSON ${JSON.stringify(broken)}`, path: enrollmentPath, body: broken });
  // Names with one character outside [A-Za-z0-9_]: emoji, scripts, controls, surrogates, RTL marks.
  const awkward = ['😀', 'é', 'ß', '中', 'ж', '\u0000', '\u001f', '\u007f', '\u200b', '\u200d', '\u202e', '\ufeff', '\ud800', '\udfff', ' ', '-', '.', '/', '\\', '"', "'", '<', '%', '\n'];
  for (let i = 0; i < 100; i += 1) {
    const base = Array.from({ length: 1 + Math.floor(random() * 10) }, () => 'abcXYZ019_'[Math.floor(random() * 10)]).join('');
    const position = Math.floor(random() * (base.length + 1));
    const name = base.slice(0, position) + awkward[i % awkward.length]! + base.slice(position);
    cases.push({ label: `preferred_name ${JSON.stringify(name)}`, path: enrollmentPath, body: create(`data:audio/wav;base64,${good.slice(0, 100)}`, { preferred_name: name }) });
  }
  for (let i = 0; i < 60; i += 1) {
    const field = ['page_index', 'page_size'][i % 2]!;
    const value = [-1 - Math.floor(random() * 1e6), 1e7 + Math.floor(random() * 1e9), random(), `${Math.floor(random() * 10)}x`, true, [], {}, Number.MAX_SAFE_INTEGER * 10][i % 8];
    cases.push({ label: `list ${field} ${JSON.stringify(value)}`, path: enrollmentPath, body: JSON.stringify({ model: 'qwen-voice-enrollment', input: { action: 'list', [field]: value } }) });
  }
  for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) {
    cases.push({ label: `content-type ${contentType}`, path: enrollmentPath, body: create(`data:audio/wav;base64,${good}`), contentType });
  }
  return cases;
}

/** Bad synthesis requests on the three HTTP surfaces and the detector. */
function badSynthesisCases(): Case[] {
  const cases: Case[] = [];
  const texts: unknown[] = ['', '   ', '😀😀😀', '\u0000', '\u200b\u200b', 'x'.repeat(20_001), 12, null, ['a'], { text: 'a' }];
  for (const text of texts) {
    cases.push({ label: `generation text ${JSON.stringify(text)?.slice(0, 16)}`, path: '/api/v1/services/aigc/multimodal-generation/generation', body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', input: { text, voice: fileVoice } }) });
    cases.push({ label: `openai input ${JSON.stringify(text)?.slice(0, 16)}`, path: '/v1/audio/speech', body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: text }) });
  }
  for (const voice of ['', 'nobody', 'qwen-tts-vc-x-voice-20260101000000000-0000', '../x', '😀', 5, null]) {
    cases.push({ label: `generation voice ${JSON.stringify(voice)}`, path: '/api/v1/services/aigc/multimodal-generation/generation', body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', input: { text: 'hi', voice } }) });
    cases.push({ label: `openai voice ${JSON.stringify(voice)}`, path: '/v1/audio/speech', body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', voice, input: 'hi' }) });
  }
  for (const model of ['', 'qwen3-tts-vc-realtime-2026-01-15', 'tts-1', 5]) {
    cases.push({ label: `generation model ${JSON.stringify(model)}`, path: '/api/v1/services/aigc/multimodal-generation/generation', body: JSON.stringify({ model, input: { text: 'hi', voice: fileVoice } }) });
  }
  for (const [field, value] of [
    ['response_format', 'midi'],
    ['response_format', 3],
    ['speed', 0],
    ['speed', 100],
    ['speed', 'fast'],
    ['stream_format', 'morse'],
  ] as const) {
    cases.push({ label: `openai ${field} ${JSON.stringify(value)}`, path: '/v1/audio/speech', body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: 'hi', [field]: value }) });
  }
  for (const data of ['data:audio/wav;base64,!!', 'data:audio/wav;base64,AAAA', 'http://127.0.0.1/a.wav', '', 5]) {
    cases.push({ label: `detect ${JSON.stringify(data)}`, path: '/v1/watermark/detect', body: JSON.stringify({ audio: { data } }) });
  }
  return cases;
}

before(async () => {
  server = await startTestServer();
  fileVoice = await createVoice(server, 'qwen3-tts-vc-2026-01-22');
});
after(async () => {
  await server.stop();
});

describe('hostile input: every bad request gets a DashScope-shaped 4xx and the server stays well', () => {
  it('answers at least 500 generated bad requests, then still creates, lists and speaks', async (t) => {
    const cases = [...badAudioCases(), ...badRequestCases(), ...badSynthesisCases()];
    // Every case twice more with the other key shapes: none, malformed and revoked.
    const revoked = await server.running.keys.issue('revoked');
    await server.running.keys.revoke(revoked.id);
    const all = [...cases.map((item) => ({ ...item, key: server.key })), ...cases.slice(0, 60).flatMap((item) => [null, 'Bearer', revoked.key].map((key) => ({ ...item, key })))];
    const statuses = new Map<number, number>();
    for (const item of all) {
      const headers: Record<string, string> = { 'content-type': item.contentType ?? 'application/json' };
      if (item.key === 'Bearer') headers.authorization = 'Bearer';
      else if (item.key) headers.authorization = `Bearer ${item.key}`;
      const response = await fetch(server.url + item.path, { method: 'POST', headers, body: item.body });
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      assert.ok(response.status >= 400 && response.status < 500, `${item.label} (key ${item.key === server.key ? 'valid' : item.key}): HTTP ${response.status} ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as { code?: unknown; message?: unknown; request_id?: unknown };
      assert.equal(typeof body.code, 'string', `${item.label}: code`);
      assert.equal(typeof body.message, 'string', `${item.label}: message`);
      assert.match(String(body.request_id), /^[0-9a-f-]{36}$/, `${item.label}: request_id`);
    }
    t.diagnostic(`${cases.length} bad requests with a valid key, ${all.length - cases.length} more without one; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(cases.length >= 500, `${cases.length} cases with a valid key`);

    // Still healthy, and still correct.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const created = await server.enroll(createBody({ preferred_name: 'after' }, `data:audio/wav;base64,${readFileSync(audioPath('low.wav')).toString('base64')}`));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const spoken = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen3-tts-vc-2026-01-22', voice: fileVoice, input: 'Still speaking after all that.', response_format: 'wav' }),
    });
    assert.equal(spoken.status, 200);
    assert.ok((await spoken.arrayBuffer()).byteLength > 10_000);
  });

  it('answers bad realtime events with error events and keeps the session', async () => {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api-ws/v1/realtime?model=qwen3-tts-vc-realtime-2026-01-15`, { headers: { authorization: `Bearer ${server.key}` } });
    const events: { type: string }[] = [];
    socket.on('message', (data) => events.push(JSON.parse(data.toString()) as { type: string }));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const bad = ['', 'not json', '[]', '42', '{"type":5}', '{"type":"fly"}', '{"type":"session.update","session":"x"}', '{"type":"session.update","session":{"sample_rate":1}}', '{"type":"input_text_buffer.append","text":7}', `{"type":"input_text_buffer.append","text":"${'x'.repeat(5000)}\u0000"}`, '{"type":"input_text_buffer.commit"}', '{"a":"\\ud800"}', '{'.repeat(5000)];
    for (const message of bad) socket.send(message);
    for (let waited = 0; events.filter((event) => event.type === 'error').length < bad.length - 1 && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(events.filter((event) => event.type === 'error').length >= bad.length - 1, JSON.stringify(events.map((event) => event.type)));
    assert.equal(socket.readyState, WebSocket.OPEN);
    socket.close();
  });
});
