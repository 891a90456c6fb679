// npm run calibrate: measures the preview engine's espeak-ng tables and writes them into
// calibration-tables.ts, which ships with Timbre, so no install measures at start or on a
// request. Run it when espeak-ng or the tables' layout (calibrationVersion) changes; the
// preview engine's tests check that the shipped tables still match espeak-ng.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../paths.js';
import { PreviewEngine } from './preview-engine.js';

const engine = await PreviewEngine.start({ threads: 1, maxQueued: 4, cacheDir: null, measureOnly: true });
try {
  const tables = await engine.measureAllCalibrations();
  const rounded = JSON.stringify(tables, (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 1e4) / 1e4 : value));
  writeFileSync(
    join(packageRoot, 'src', 'engines', 'preview', 'calibration-tables.ts'),
    `// Written by \`npm run calibrate\` (src/engines/preview/write-calibration.ts); do not edit.\n// How espeak-ng's variants answer to pitch, range, rate and formant scale, measured with\n// Timbre's own voice analysis.\nimport type { Calibration } from './preview-engine.js';\n\nexport const shippedCalibration: { version: number; variants: Record<string, Calibration> } = ${rounded};\n`,
  );
  console.log(`calibration version ${tables.version}: ${Object.keys(tables.variants).join(', ')} written`);
} finally {
  await engine.close();
}
