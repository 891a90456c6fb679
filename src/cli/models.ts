// `timbre models pull | add | list`: install neural weights, from upstream or from disk.
import { Option, type Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { catalog, catalogModel, type CatalogModel } from '../engines/neural/catalog.js';
import { DownloadError, installModel, InstallError, pullModel, type Progress } from '../engines/neural/install.js';
import { installedModels, type DownloadRecord } from '../engines/neural/installed.js';
import { engineAssignments } from '../engines/router.js';
import { targetModels } from '../voices/rules.js';
import { exitCodes, printTable } from './output.js';

function modelsConfig(options: Record<string, unknown>): Config {
  try {
    return loadConfig(process.env, typeof options.modelsDir === 'string' ? { modelsDir: options.modelsDir } : {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`timbre: ${error.message}\n`);
    process.exit(exitCodes.config);
  }
}

function modelNamed(name: string): CatalogModel {
  const model = catalogModel(name);
  if (!model) {
    process.stderr.write(`timbre: unknown model ${name} (known: ${catalog.map((entry) => entry.name).join(', ')})\n`);
    process.exit(exitCodes.usage);
  }
  return model;
}

/** A bar on a terminal; otherwise one line when each file starts and ends (logs stay readable). */
function progressBar(): Progress & { finish(): void } {
  const tty = process.stderr.isTTY === true;
  let current = '';
  let lastPercent = -1;
  const bar = ((done: number, total: number | null, label: string) => {
    const percent = total ? Math.floor((done / total) * 100) : null;
    if (!tty) {
      if (label !== current) process.stderr.write(`downloading ${label}${total ? ` (${(total / 1e6).toFixed(1)} MB)` : ''}${done > 0 ? `, resuming at ${(done / 1e6).toFixed(1)} MB` : ''}\n`);
      current = label;
      return;
    }
    if (label === current && percent === lastPercent) return;
    current = label;
    lastPercent = percent ?? -1;
    const width = 30;
    const filled = percent === null ? 0 : Math.round((percent / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent ?? '?'}% ${(done / 1e6).toFixed(1)}${total ? `/${(total / 1e6).toFixed(1)}` : ''} MB\x1b[K`);
  }) as Progress & { finish(): void };
  bar.finish = () => {
    if (tty && current) process.stderr.write('\n');
  };
  return bar;
}

async function reportInstall(work: () => Promise<{ name: string; files: Record<string, unknown> }>, json: boolean, modelsDir: string): Promise<void> {
  try {
    const manifest = await work();
    if (json) process.stdout.write(`${JSON.stringify(manifest)}\n`);
    else process.stdout.write(`installed ${manifest.name} in ${modelsDir}/${manifest.name} (${Object.keys(manifest.files).length} files checked); restart \`timbre serve\` to use it\n`);
  } catch (error) {
    if (error instanceof InstallError || error instanceof DownloadError) {
      process.stderr.write(`\ntimbre: ${error.message}\n`);
      process.exit(error instanceof DownloadError ? exitCodes.unavailable : exitCodes.failure);
    }
    throw error;
  }
}

export function addModelCommands(program: Command): void {
  const models = program.command('models').description('install and list the neural voice-cloning models and the speaker encoder');
  const modelsDirOption = () => new Option('--models-dir <dir>', 'models folder [env TIMBRE_MODELS_DIR, default the package\'s models/]');

  models
    .command('list')
    .description('what is installed, and which target_model each engine serves')
    .addOption(modelsDirOption())
    .option('--json', 'print JSON for scripts')
    .action((options: Record<string, unknown>) => {
      const config = modelsConfig(options);
      const installed = installedModels(config.modelsDir);
      const engineIds = installed.filter((entry) => entry.model.role === 'engine').map((entry) => entry.model.name);
      const assignments = engineAssignments(targetModels, config.engines, ['preview', ...engineIds]);
      const serves = (engine: string) => targetModels.filter((model) => (assignments.get(model) ?? 'preview') === engine);
      const rows = [
        { name: 'preview', role: 'engine' as const, installed: true, source: 'built in (espeak-ng)', installedAt: null as string | null, serves: serves('preview'), verifiedBy: [] as string[], downloads: [] as DownloadRecord[] },
        ...catalog.map((model) => {
          const found = installed.find((entry) => entry.model.name === model.name);
          const serving = model.role === 'engine' ? serves(model.name) : ['speaker similarity, consent verification'];
          const downloads = found?.manifest.downloads ?? [];
          return {
            name: model.name,
            role: model.role,
            installed: Boolean(found),
            source: found?.manifest.source ?? null,
            installedAt: found?.manifest.installedAt ?? null,
            serves: serving,
            verifiedBy: [...new Set(downloads.map((record) => record.vouchedBy))],
            downloads,
          };
        }),
      ];
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ modelsDir: config.modelsDir, engines: rows })}\n`);
        return;
      }
      printTable(
        ['ENGINE', 'INSTALLED', 'SERVES', 'SOURCE', 'VERIFIED BY'],
        rows.map((row) => [
          row.name,
          row.installed ? (row.installedAt ?? 'yes') : 'no',
          row.serves.join(', ') || '-',
          row.source ?? `timbre models pull ${row.name}`,
          row.verifiedBy.join('; ') || (row.installed && row.name !== 'preview' ? 'installed from disk (models add)' : '-'),
        ]),
      );
    });

  models
    .command('pull')
    .description(
      "download a model from the first of its publishers that serves it (GitHub release, Hugging Face, PyPI), each file checked against the sha256 its publisher's service states (or this build's pin), resuming a partial download; TIMBRE_MODEL_SOURCES points at other hosts",
    )
    .argument('<name>', catalog.map((model) => model.name).join(' | '))
    .addOption(modelsDirOption())
    .option('--url <url...>', 'download these files instead (a mirror of your own; needs --sha256 unless this build pins them)')
    .option('--sha256 <hex...>', 'expected sha256 of each file in order, from a source you trust; wins over every other digest')
    .option('--json', 'print JSON for scripts')
    .action(async (name: string, options: Record<string, unknown>) => {
      const model = modelNamed(name);
      const config = modelsConfig(options);
      const bar = progressBar();
      await reportInstall(
        async () => {
          try {
            return await pullModel(model, {
              modelsDir: config.modelsDir,
              endpoints: config.modelSources,
              ...(options.url ? { urls: options.url as string[] } : {}),
              ...(options.sha256 ? { sha256: options.sha256 as string[] } : {}),
              progress: bar,
              say: (line) => process.stderr.write(`${line}\n`),
            });
          } finally {
            bar.finish();
          }
        },
        Boolean(options.json),
        config.modelsDir,
      );
    });

  models
    .command('add')
    .description('install a model from a folder or archive on disk (for hosts without internet; speaker-encoder: Resemblyzer\'s wheel or its pretrained.pt); its files are checked')
    .argument('<name>', catalog.map((model) => model.name).join(' | '))
    .requiredOption('--from <path>', 'folder, .tar.bz2 / .tar.gz archive or .whl holding the model files')
    .addOption(modelsDirOption())
    .option('--json', 'print JSON for scripts')
    .action(async (name: string, options: Record<string, unknown>) => {
      const model = modelNamed(name);
      const config = modelsConfig(options);
      await reportInstall(() => installModel(model, String(options.from), config.modelsDir), Boolean(options.json), config.modelsDir);
    });
}
