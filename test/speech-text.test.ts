import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseText } from '../src/speech/normalise.js';
import { splitSentences, maxSentenceCharacters } from '../src/speech/sentences.js';
import { crossfaded } from '../src/speech/speech-service.js';

describe('long text: sentence splitting', () => {
  it('splits English at sentence ends but not after abbreviations or initials', () => {
    assert.deepEqual(splitSentences('Dr. Smith met Mr. Jones at 3 p.m. on Jan. 5. They talked about J. K. Rowling. Did it work? Yes!'), [
      'Dr. Smith met Mr. Jones at 3 p.m. on Jan. 5.',
      'They talked about J. K. Rowling.',
      'Did it work?',
      'Yes!',
    ]);
  });

  it('splits Chinese and Japanese at their full-width punctuation', () => {
    assert.deepEqual(splitSentences('今天天气很好。我们去公园散步吧！你来吗？好的', 'zh'), ['今天天气很好。', '我们去公园散步吧！', '你来吗？', '好的']);
    assert.deepEqual(splitSentences('今日はいい天気ですね。公園に行きましょう。', 'ja'), ['今日はいい天気ですね。', '公園に行きましょう。']);
  });

  it('keeps decimals whole, drops empty pieces, and cuts overlong sentences at commas or spaces', () => {
    assert.deepEqual(splitSentences('It costs 3.50 today. Really.'), ['It costs 3.50 today.', 'Really.']);
    assert.deepEqual(splitSentences(' ... !!! '), []);
    const long = Array.from({ length: 60 }, (_, i) => `clause ${i}`).join(', ');
    const pieces = splitSentences(long);
    assert.ok(pieces.length > 1);
    for (const piece of pieces) assert.ok(piece.length <= maxSentenceCharacters, `${piece.length}`);
    assert.equal(pieces.join(' '), long);
  });
});

describe('text normalisation: numbers, dates, money', () => {
  const english: [string, string][] = [
    ['It costs $5.20.', 'It costs five dollars and twenty cents.'],
    ['£1 and €3.05', 'one pound and three euros and five cents'],
    ['Born on 1999-12-31.', 'Born on December thirty-first, nineteen ninety-nine.'],
    ['Due 11/24/2026', 'Due November twenty-fourth, twenty twenty-six'],
    ['Up 12.5% since 2001', 'Up twelve point five percent since two thousand one'],
    ['The 21st of 1,500 runners', 'The twenty-first of one thousand five hundred runners'],
    ['Meet at 10:05 or 9:00', 'Meet at ten oh five or nine o\'clock'],
    ['It is -5 outside', 'It is minus five outside'],
  ];
  for (const [input, spoken] of english) {
    it(`en: ${input}`, () => assert.equal(normaliseText(input, 'en'), spoken));
  }
  const chinese: [string, string][] = [
    ['价格是5.20元', '价格是五元二角'],
    ['花费¥300', '花费三百元'],
    ['2026年11月24日', '二零二六年十一月二十四日'],
    ['增长了12.5%', '增长了百分之十二点五'],
    ['共有1500人', '共有一千五百人'],
    ['10:30开始', '十点三十分开始'],
  ];
  for (const [input, spoken] of chinese) {
    it(`zh: ${input}`, () => assert.equal(normaliseText(input, 'zh'), spoken));
  }

  it('detects Chinese text when no language is given, and leaves other languages alone', () => {
    assert.equal(normaliseText('共有1500人', null), '共有一千五百人');
    assert.equal(normaliseText('Es kostet 5 Euro', 'de'), 'Es kostet 5 Euro');
  });
});

describe('long text: crossfaded joins', () => {
  async function* chunks(...values: number[][]): AsyncGenerator<Float32Array> {
    for (const value of values) yield Float32Array.from(value);
  }
  async function collect(stream: AsyncIterable<Float32Array>): Promise<number[]> {
    const out: number[] = [];
    for await (const chunk of stream) out.push(...chunk);
    return out;
  }

  it('overlaps the end of one sentence with the start of the next, keeping everything else', async () => {
    const out = await collect(crossfaded([() => chunks([1, 1, 1], [1, 1]), () => chunks([0, 0], [0, 0, 0])], 2));
    // 5 + 5 samples, 2 of them shared.
    assert.equal(out.length, 8);
    assert.deepEqual(out.slice(0, 3), [1, 1, 1]);
    assert.ok(out[3]! < 1 && out[3]! > out[4]! && out[4]! > 0, `fade: ${out.slice(3, 5)}`);
    assert.deepEqual(out.slice(5), [0, 0, 0]);
  });

  it('passes a single stream through unchanged and survives sentences shorter than the fade', async () => {
    assert.deepEqual(await collect(crossfaded([() => chunks([0.5, 0.25], [0.125])], 4)), [0.5, 0.25, 0.125]);
    const out = await collect(crossfaded([() => chunks([1, 1, 1, 1]), () => chunks([0]), () => chunks([0.5, 0.5, 0.5])], 2));
    // The one-sample sentence joins the held tail, and the next sentence fades over all three.
    assert.equal(out.length, 4 + 1 + 3 - 3);
    assert.deepEqual(out.slice(0, 2), [1, 1]);
  });
});
