import { randomBytes } from 'node:crypto';

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** `yyyyMMddHHmmssSSS` in UTC. */
export function compactTimestamp(at: number): string {
  const date = new Date(at);
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    pad(date.getUTCMilliseconds(), 3)
  );
}

/** `qwen-tts-vc-<preferred_name>-voice-<yyyyMMddHHmmssSSS>-<4 hex>`; unique by the database key. */
export function makeVoiceName(preferredName: string, at: number, suffix: string = randomBytes(2).toString('hex')): string {
  return `qwen-tts-vc-${preferredName}-voice-${compactTimestamp(at)}-${suffix}`;
}

/** `yyyy-MM-dd HH:mm:ss` in UTC, as the provider shows `gmt_create`. */
export function gmtTimestamp(at: number): string {
  return new Date(at).toISOString().slice(0, 19).replace('T', ' ');
}
