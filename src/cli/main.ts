#!/usr/bin/env node
import { Command, Option } from 'commander';
import { KeyService } from '../accounts/keys.js';
import { defaultKeyFile, openStore, startTimbre } from '../app.js';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig, settings, type SettingName } from '../config.js';
import { addClientCommands } from './client-commands.js';
import { addModelCommands } from './models.js';
import { exitCodes, printTable } from './output.js';


type FlagValues = Partial<Record<SettingName, string>>;

function configFrom(flags: FlagValues) {
  try {
    return loadConfig(process.env, flags);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`timbre: ${error.message}\n`);
      process.exit(exitCodes.config);
    }
    throw error;
  }
}

/** Every setting as a flag (env var named in the help), so serve and the env agree. */
function withSettingFlags(command: Command, only?: SettingName[]): Command {
  for (const [key, setting] of Object.entries(settings)) {
    // commander turns --data-dir into dataDir: the flag names are the setting keys in kebab case.
    if (only && !only.includes(key as SettingName)) continue;
    command.addOption(new Option(`--${setting.flag} <value>`, `${setting.help} [env ${setting.env}, default ${setting.fallback || 'see help'}]`));
  }
  return command;
}

function flagsOf(options: Record<string, unknown>): FlagValues {
  const flags: FlagValues = {};
  for (const key of Object.keys(settings) as SettingName[]) {
    const value = options[key];
    if (typeof value === 'string') flags[key] = value;
  }
  return flags;
}

const program = new Command('timbre').description('Self-hosted voice cloning, DashScope-compatible').showHelpAfterError();
// Set before the subcommands are defined: they inherit it.
program.exitOverride((error) => process.exit(error.exitCode === 0 ? exitCodes.ok : exitCodes.usage));

withSettingFlags(program.command('serve').description('serve the API on the configured address')).action(async (options: Record<string, unknown>) => {
  const config = configFrom(flagsOf(options));
  const running = await startTimbre(config);
  const keyLines =
    config.printKey && running.defaultKey
      ? `API key (account "default"): ${running.defaultKey}\n  (kept in ${defaultKeyFile(config.dataDir)}; make more with \`npx timbre keys create --account NAME\`)\n`
      : '';
  process.stdout.write(`${keyLines}Timbre is serving at ${running.url}\n`);
  const stop = async () => {
    await running.close();
    process.exit(exitCodes.ok);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});

async function withKeys<T>(options: Record<string, unknown>, work: (keys: KeyService) => Promise<T>): Promise<T> {
  const config = configFrom(flagsOf(options));
  const { repository } = await openStore(config);
  try {
    return await work(new KeyService(repository, systemClock));
  } finally {
    await repository.close();
  }
}

const keysCommand = program.command('keys').description('manage API keys');
withSettingFlags(keysCommand.command('create').description('issue a new key (printed once)').requiredOption('--account <name>', 'account that owns the key').option('--json', 'print JSON'), [
  'dataDir',
]).action(async (options: Record<string, unknown>) => {
  const issued = await withKeys(options, (keys) => keys.issue(String(options.account)));
  if (options.json) process.stdout.write(`${JSON.stringify({ key: issued.key, id: issued.id, account: issued.account.name })}\n`);
  else process.stdout.write(`${issued.key}\n`);
});

withSettingFlags(keysCommand.command('list').description('list keys (prefixes only)').option('--json', 'print JSON'), ['dataDir']).action(async (options: Record<string, unknown>) => {
  const keys = await withKeys(options, (service) => service.list());
  if (options.json) {
    process.stdout.write(`${JSON.stringify(keys)}\n`);
    return;
  }
  const rows = keys.map((key) => [key.id, key.keyPrefix + '…', key.accountName, new Date(key.createdAt).toISOString(), key.revokedAt ? 'revoked' : 'active']);
  const header = ['ID', 'KEY', 'ACCOUNT', 'CREATED', 'STATE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
});

withSettingFlags(keysCommand.command('revoke').description('revoke a key by id or prefix').argument('<key>', 'key id or prefix'), ['dataDir']).action(
  async (key: string, options: Record<string, unknown>) => {
    const revoked = await withKeys(options, (service) => service.revoke(key));
    if (!revoked) {
      process.stderr.write(`timbre: no active key matches ${key}\n`);
      process.exit(exitCodes.notFound);
    }
    process.stdout.write(`revoked ${key}\n`);
  },
);

addClientCommands(program);
addModelCommands(program);

await program.parseAsync(process.argv);
