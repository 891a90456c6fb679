import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled files live in dist/src/, sources in src/: walk up to the folder with package.json.
const here = dirname(fileURLToPath(import.meta.url));
export const packageRoot = here.includes('/dist/') ? join(here, '..', '..') : join(here, '..');

export const packageVersion: string = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
