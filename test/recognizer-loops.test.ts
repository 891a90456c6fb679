import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { loopAtEnd } from '../src/audio/asr/repetition.js';
import { openMoonshine, quietestPointInMiddleThird, type MoonshineTranscriber } from '../src/audio/asr/transcriber.js';
import { ffmpegPath } from '../src/audio/ffmpeg.js';
import { packageRoot } from '../src/paths.js';
import { normaliseForComparison } from '../src/voices/text-check.js';
import { audioPath } from './helpers.js';

describe('speech recognizer: decoding loops', () => {
  it('sees a loop of a phrase as it closes, and not speech that repeats a word or two', () => {
    const phrase = [11, 12, 13];
    assert.deepEqual(loopAtEnd([5, 6, ...phrase, ...phrase, ...phrase]), { start: 2, block: 3 });
    assert.equal(loopAtEnd([5, 6, ...phrase, ...phrase]), null, 'two copies are speech');
    assert.equal(loopAtEnd([5, 6, ...phrase, ...phrase, ...phrase, 7]), null, 'a loop that ended is no longer at the end');
    assert.equal(loopAtEnd([1, 9, 9, 9, 9]), null, '"no, no, no, no" is speech');
    assert.deepEqual(loopAtEnd([1, ...Array<number>(8).fill(9)]), { start: 1, block: 1 });
    assert.equal(loopAtEnd([1, 2, 9, 8, 9, 8, 9, 8]), null, 'three copies of two tokens are too short to be a loop');
    assert.deepEqual(loopAtEnd([1, 2, 9, 8, 9, 8, 9, 8, 9, 8]), { start: 2, block: 2 });
    const sentence = Array.from({ length: 40 }, (_, index) => 100 + index);
    assert.deepEqual(loopAtEnd([...sentence, ...sentence, ...sentence]), { start: 0, block: 40 });
  });

  it('splits where the audio is quietest in its middle third', () => {
    const samples = new Float32Array(9000).map((_, index) => Math.sin(index / 3));
    samples.fill(0, 4000, 4600);
    const point = quietestPointInMiddleThird(samples);
    assert.ok(point >= 4000 + 240 && point <= 4600 - 240, `${point}`);
    samples.fill(0, 500, 2000);
    assert.ok(quietestPointInMiddleThird(samples) >= 3000, 'silence outside the middle third is not chosen');
  });

  describe('with Moonshine', () => {
    let transcriber: MoonshineTranscriber;
    before(() => {
      const opened = openMoonshine(join(packageRoot, 'models'), 2, 4);
      assert.ok(opened, 'Moonshine is installed by npm install');
      transcriber = opened;
    });
    after(async () => {
      await transcriber.close();
    });

    // Greedy decoding of six copies of one phrase loops after three ("That agent is already
    // allowed" three times, then it stops): the loop is cut, and the halves (split again while
    // they loop) give back all six. Before, a loop ran on to the token limit, and a CI run failed on a
    // transcript of "to the channel" repeated forty times in place of the slow voice's words.
    it('hears a phrase said six times six times: a loop is heard again in halves, not kept or repeated on', async () => {
      const { stdout } = await promisify(execFile)(ffmpegPath, ['-v', 'error', '-i', audioPath('human-en.wav'), '-t', '1.5', '-ac', '1', '-ar', '16000', '-f', 'f32le', '-'], { encoding: 'buffer' });
      const phrase = new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.byteLength));
      const sixTimes = new Float32Array(phrase.length * 6);
      for (let copy = 0; copy < 6; copy += 1) sixTimes.set(phrase, copy * phrase.length);
      const words = normaliseForComparison(await transcriber.transcribe(sixTimes));
      const agents = words.filter((word) => word === 'agent').length;
      assert.ok(agents >= 5 && agents <= 7, `"agent" heard ${agents} times: ${words.join(' ')}`);
      assert.ok(words.length <= 6 * 6, `${words.length} words: ${words.join(' ')}`);
    });
  });
});
