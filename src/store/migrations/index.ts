import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './001-initial.js';
import * as voicePrompt from './002-voice-prompt.js';
import * as generatedAudio from './003-generated-audio.js';
import * as consent from './004-consent.js';
import * as voiceAudit from './005-voice-audit.js';
import * as blobs from './006-blobs.js';

/** Numbered migrations, compiled in (no directory scan, so bundling and dist/ both work). */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001-initial': initial, '002-voice-prompt': voicePrompt, '003-generated-audio': generatedAudio, '004-consent': consent, '005-voice-audit': voiceAudit, '006-blobs': blobs };
  },
};
