import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { speechPieces } from '../src/audio/reference.js';
import { normaliseForComparison, wordErrorRate } from '../src/voices/text-check.js';
import { audioPath, createBody, dataUrl, startTestServer, type TestServer } from './helpers.js';

const humanText = readFileSync(audioPath('human-en.txt'), 'utf8');
const passage = readFileSync(audioPath('passage.txt'), 'utf8');

describe('text check: comparison', () => {
  it('normalises case, punctuation, apostrophes and numbers', () => {
    assert.deepEqual(normaliseForComparison('It\'s 42 dollars, OK? 1,500 people.'), ['its', 'forty', 'two', 'dollars', 'ok', 'one', 'thousand', 'five', 'hundred', 'people']);
  });

  it('counts substitutions, insertions and deletions over the reference length', () => {
    const reference = ['the', 'cat', 'sat', 'on', 'the', 'mat'];
    assert.equal(wordErrorRate(reference, reference), 0);
    assert.equal(wordErrorRate(reference, ['the', 'dog', 'sat', 'on', 'the', 'mat']), 1 / 6);
    assert.equal(wordErrorRate(reference, ['the', 'cat', 'sat', 'on', 'mat']), 1 / 6);
    assert.equal(wordErrorRate(reference, ['the', 'cat', 'sat', 'down', 'on', 'the', 'mat']), 1 / 6);
    assert.equal(wordErrorRate(reference, []), 1);
    assert.equal(wordErrorRate(['a', 'b'], ['c', 'd', 'e', 'f']), 2);
  });

  it('cuts long speech into pieces of at most 20 s at pauses', () => {
    const rate = 100;
    const audio = { samples: new Float32Array(50 * rate), sampleRate: rate };
    const spans = [0, 9, 18, 27, 36].map((start) => ({ startSeconds: start + 0.5, endSeconds: start + 8 }));
    const pieces = speechPieces(audio, spans, 20);
    assert.equal(pieces.length, 3);
    for (const piece of pieces) assert.ok(piece.length <= 20 * rate, `${piece.length / rate} s`);
  });
});

describe('text check: at create, through the API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('accepts the transcript of a human recording without a fallback', async () => {
    const result = await server.enroll(createBody({ text: humanText, language: 'en' }, dataUrl('human-en.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.fallback_mode, false, result.body.output.fallback_reason);
  });

  it('accepts a matching text without `language` when it is in Latin script (checked as English)', async () => {
    const result = await server.enroll(createBody({ text: humanText }, dataUrl('human-en.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.fallback_mode, false, result.body.output.fallback_reason);
  });

  it('refuses a text for other audio with Audio.PreprocessError, saying what was heard', async () => {
    const listBody = { model: 'qwen-voice-enrollment', input: { action: 'list' } };
    const before = (await server.enroll(listBody)).body.output.voice_list.length;
    const result = await server.enroll(createBody({ text: passage, language: 'en' }, dataUrl('human-en.wav')));
    assert.equal(result.status, 400, JSON.stringify(result.body));
    assert.equal(result.body.code, 'Audio.PreprocessError');
    assert.match(result.body.message, /does not match the speech: \d+ % of its words differ .*agent/);
    assert.equal((await server.enroll(listBody)).body.output.voice_list.length, before, 'nothing is stored for a refused voice');
  });

  it('refuses a text with one sentence of several replaced by another', async () => {
    const sentences = humanText.split(/(?<=\.)\s+/);
    const altered = [...sentences.slice(0, 2), passage].join(' ');
    const result = await server.enroll(createBody({ text: altered, language: 'en' }, dataUrl('human-en.wav')));
    assert.equal(result.status, 400, JSON.stringify(result.body));
    assert.equal(result.body.code, 'Audio.PreprocessError');
  });

  it('accepts the text of a synthetic English voice (the preview engine\'s own kind of speech)', async () => {
    const result = await server.enroll(createBody({ text: passage, language: 'en' }, dataUrl('low.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
  });

  it('hears nothing in empty or near-empty audio, instead of failing inside the recognizer', async () => {
    const transcriber = server.running.transcriber!;
    assert.equal(await transcriber.transcribe(new Float32Array(0)), '');
    assert.equal(await transcriber.transcribe(new Float32Array(100)), '');
    // And the check still hears speech afterwards.
    const result = await server.enroll(createBody({ text: humanText, language: 'en' }, dataUrl('human-en.wav')));
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.output.fallback_mode, false, result.body.output.fallback_reason);
  });

  it('accepts languages without a recognizer unverified, and says so in fallback_reason', async () => {
    const german = await server.enroll(createBody({ text: 'Guten Morgen, wie geht es dir heute?', language: 'de' }, dataUrl('human-en.wav')));
    assert.equal(german.status, 200, JSON.stringify(german.body));
    assert.equal(german.body.output.fallback_mode, true);
    assert.match(german.body.output.fallback_reason, /text not verified: no speech recognizer for de/);
    const chinese = await server.enroll(createBody({ text: '今天天气很好，我们去公园散步吧。' }, dataUrl('human-en.wav')));
    assert.equal(chinese.status, 200, JSON.stringify(chinese.body));
    assert.match(chinese.body.output.fallback_reason, /text not verified/);
  });
});
