import { InvalidField, TooLarge, UrlRejected } from '../errors.js';

export const maxEncodedBytes = 10 * 1024 * 1024;

/** Mediatypes a data URL may carry, with the aliases browsers and tools commonly write. */
const mediatypeAliases: Record<string, 'audio/wav' | 'audio/mpeg' | 'audio/mp4'> = {
  'audio/wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/x-wav': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/mpeg': 'audio/mpeg',
  'audio/mp3': 'audio/mpeg',
  'audio/mp4': 'audio/mp4',
  'audio/m4a': 'audio/mp4',
  'audio/x-m4a': 'audio/mp4',
};

/** What the watermark detector also reads: every format Timbre itself can output. */
export const anyOutputMediatypes: Record<string, string> = {
  ...mediatypeAliases,
  'audio/ogg': 'audio/ogg',
  'audio/opus': 'audio/ogg',
  'audio/webm': 'audio/webm',
  'audio/flac': 'audio/flac',
  'audio/aac': 'audio/aac',
};

export type AudioSource =
  | { kind: 'inline'; mediatype: string; bytes: Buffer }
  | { kind: 'url'; url: URL };

// Tolerant of the spaces the provider's own Python example writes: "data: audio/mpeg ;base64, ...".
const dataUrlHead = /^\s*data\s*:\s*([^;,\s]*)\s*;\s*base64\s*,/i;

/**
 * The bytes of a base64 body, or null when it is not standard base64 with at most two '='
 * at its end and no dangling character. Node's decoder skips what is not base64 (and reads the
 * URL-safe alphabet too), so a body is whole when it decodes to the bytes its length promises:
 * each skipped character shortens the output. Checked this way because a regex over the body
 * took 5-6 ms of every 20 s create (1.3 MB of base64); the decode it needs anyway takes 1-2.
 */
export function decodeBase64(encoded: string): Buffer | null {
  let padding = 0;
  while (padding < encoded.length && encoded.charCodeAt(encoded.length - 1 - padding) === 0x3d) padding += 1;
  const dataChars = encoded.length - padding;
  if (padding > 2 || dataChars % 4 === 1 || encoded.includes('-') || encoded.includes('_')) return null;
  const bytes = Buffer.from(encoded, 'base64');
  return bytes.length === Math.floor((dataChars * 3) / 4) ? bytes : null;
}

/** Reads `audio.data`: a base64 data URL or an http(s) URL. */
export function parseAudioData(field: string, data: string, accepted: Record<string, string> = mediatypeAliases): AudioSource {
  const head = dataUrlHead.exec(data);
  if (head) {
    const declared = (head[1] ?? '').toLowerCase();
    const mediatype = accepted[declared];
    if (!mediatype) {
      const names = [...new Set(Object.values(accepted))];
      throw new InvalidField(field, `has mediatype ${JSON.stringify(declared)}; use ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);
    }
    const encoded = data.slice(head[0].length).replace(/\s+/g, '');
    if (encoded.length >= maxEncodedBytes) {
      throw new TooLarge(`${field} holds ${encoded.length} bytes of base64; the limit is under ${maxEncodedBytes} bytes (10 MB)`);
    }
    if (encoded.length === 0) throw new InvalidField(field, 'is a data URL with no audio in it');
    const bytes = decodeBase64(encoded);
    if (bytes === null) throw new InvalidField(field, 'is not valid base64 after ";base64,"');
    return { kind: 'inline', mediatype, bytes };
  }
  if (/^\s*data\s*:/i.test(data)) {
    throw new InvalidField(field, 'must be a data URL of the form data:<mediatype>;base64,<data>');
  }
  let url: URL;
  try {
    url = new URL(data.trim());
  } catch {
    throw new UrlRejected(`${field} is neither a data URL nor a valid http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlRejected(`${field} uses scheme ${url.protocol.replace(':', '')}; only http and https URLs are fetched`);
  }
  if (url.username || url.password) {
    throw new UrlRejected(`${field} must be a public URL without credentials`);
  }
  return { kind: 'url', url };
}
