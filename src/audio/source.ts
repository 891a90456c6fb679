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
const base64Body = /^[A-Za-z0-9+/]*={0,2}$/;

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
    if (!base64Body.test(encoded) || encoded.length % 4 === 1) {
      throw new InvalidField(field, 'is not valid base64 after ";base64,"');
    }
    return { kind: 'inline', mediatype, bytes: Buffer.from(encoded, 'base64') };
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
