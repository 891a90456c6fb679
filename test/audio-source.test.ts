import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeBase64, parseAudioData } from '../src/audio/source.js';
import { InvalidField } from '../src/errors.js';

// The data URL's base64 is checked by decoding it: whatever Node's decoder would skip or read
// from the URL-safe alphabet is refused, as a regex over the body refused it before; so is a
// dangling last character, which the regex let through when padding followed it.

/** Not base64: characters Node's decoder skips, stops at, or reads as base64url. */
const foreign = ['!', '*', '.', ':', '-', '_', '=', 'é', '€', '\u0000', '😀'];

describe('base64 in data URLs', () => {
  it('reads standard base64 of any length, padded or not, to the bytes it encodes', () => {
    for (let length = 0; length < 64; length += 1) {
      const bytes = randomBytes(length);
      const padded = bytes.toString('base64');
      assert.deepEqual(decodeBase64(padded), bytes, padded);
      assert.deepEqual(decodeBase64(padded.replace(/=+$/, '')), bytes, `${padded} unpadded`);
    }
    const body = randomBytes(960_044);
    assert.deepEqual(parseAudioData('input.audio.data', `data:audio/wav;base64,${body.toString('base64')}`), { kind: 'inline', mediatype: 'audio/wav', bytes: body });
  });

  it('refuses a body with any character that is not standard base64, wherever it stands', () => {
    for (let trial = 0; trial < 400; trial += 1) {
      const encoded = randomBytes(3 + (trial % 40)).toString('base64');
      const at = trial % encoded.length;
      const character = foreign[trial % foreign.length]!;
      for (const body of [encoded.slice(0, at) + character + encoded.slice(at + 1), encoded.slice(0, at) + character + encoded.slice(at)]) {
        // A '=' that only lengthens the padding to two is still base64.
        if (/^[A-Za-z0-9+/]*={0,2}$/.test(body) && body.replace(/=+$/, '').length % 4 !== 1) continue;
        assert.equal(decodeBase64(body), null, JSON.stringify(body));
      }
    }
  });

  it('refuses too much padding, padding inside the body and a dangling character', () => {
    for (const body of ['A===', 'AAAA===', '====', 'AB=D', 'ABCD=AAA', 'AAAAA', 'AAAAA=', 'AAAAA==', 'A']) {
      assert.equal(decodeBase64(body), null, body);
    }
    assert.throws(() => parseAudioData('input.audio.data', 'data:audio/wav;base64,AAAA!AAA'), (error: unknown) => error instanceof InvalidField && /not valid base64/.test(error.message));
  });

  it('keeps reading the whitespace the provider\'s examples leave in a body', () => {
    const bytes = randomBytes(300);
    const wrapped = bytes.toString('base64').replace(/.{76}/g, '$&\n');
    assert.deepEqual(parseAudioData('input.audio.data', `data: audio/mpeg ;base64, ${wrapped}`), { kind: 'inline', mediatype: 'audio/mpeg', bytes });
  });
});
