// The CLI's client commands: they talk to a running server through the SDK, as any script would.
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { TimbreApiError, TimbreClient, TimbreConnectionError, type Consent } from '../client/index.js';
import { ConfigError, clientSettings, loadClientConfig, loadConfig } from '../config.js';
import { defaultKeyFile } from '../app.js';
import { exitCodes, printTable } from './output.js';

function clientFrom(options: Record<string, unknown>): TimbreClient {
  const config = loadClientConfig(
    process.env,
    { url: options.url as string | undefined, apiKey: options.apiKey as string | undefined },
    () => {
      const file = defaultKeyFile(loadConfig(process.env, {}).dataDir);
      return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
    },
  );
  if (!config.apiKey) throw new ConfigError(`no API key: pass --api-key or set ${clientSettings.apiKey.env}`);
  return new TimbreClient({ baseUrl: config.url, apiKey: config.apiKey });
}

/** Runs a client command; API and connection failures become messages and exit codes. */
async function run(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof TimbreApiError) {
      process.stderr.write(`timbre: ${error.code}: ${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}\n`);
      process.exit(error.code === 'InvalidApiKey' ? exitCodes.config : /does not exist/.test(error.message) ? exitCodes.notFound : exitCodes.failure);
    }
    if (error instanceof TimbreConnectionError) {
      process.stderr.write(`timbre: ${error.message}\n`);
      process.exit(exitCodes.unavailable);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`timbre: ${error.message}\n`);
      process.exit(exitCodes.config);
    }
    throw error;
  }
}

function withClientFlags(command: Command): Command {
  return command
    .option(`--${clientSettings.url.flag} <url>`, `${clientSettings.url.help} [env ${clientSettings.url.env}, default ${clientSettings.url.fallback}]`)
    .option(`--${clientSettings.apiKey.flag} <key>`, `${clientSettings.apiKey.help} [env ${clientSettings.apiKey.env}]`)
    .option('--json', 'print JSON for scripts');
}

/** A one-line progress note on stderr, only where a person is watching. */
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K`);
}

export function addClientCommands(program: Command): void {
  const voices = program.command('voices').description('create, list and delete voices on a running server');

  withClientFlags(
    voices
      .command('create')
      .description('clone a voice from a recording (10-20 s of speech)')
      .requiredOption('--file <path>', 'wav, mp3 or m4a recording')
      .requiredOption('--name <name>', 'preferred name: letters, digits, underscore, up to 16')
      .option('--text <text>', 'what is said in the recording (checked against it)')
      .option('--language <code>', 'zh, en, de, it, pt, es, ja, ko, fr or ru')
      .option('--target-model <model>', 'model the voice will speak with', 'qwen3-tts-vc-realtime-2026-01-15')
      .option('--consent <statement>', 'the speaker\'s consent, stored with the voice (e.g. "Ada agreed in writing on 2026-11-20")')
      .option('--consent-method <method>', 'how consent was given: checkbox, spoken or attestation (default: spoken with --consent-audio, else attestation)')
      .option('--consent-audio <path>', 'a recording of the speaker saying the --consent statement; the server checks the speaker and the words')
      .option('--consent-by <name>', 'who gave consent'),
  ).action((options: Record<string, unknown>) =>
    run(async () => {
      progress('uploading and analysing…');
      const created = await clientFrom(options).voices.create({
        audio: String(options.file),
        preferredName: String(options.name),
        targetModel: options.targetModel as never,
        ...(options.text !== undefined ? { text: String(options.text) } : {}),
        ...(options.language !== undefined ? { language: String(options.language) } : {}),
        ...(options.consent !== undefined
          ? {
              consent: {
                method: String(options.consentMethod ?? (options.consentAudio !== undefined ? 'spoken' : 'attestation')) as Consent['method'],
                statement: String(options.consent),
                ...(options.consentBy !== undefined ? { givenBy: String(options.consentBy) } : {}),
                ...(options.consentAudio !== undefined ? { audio: String(options.consentAudio) } : {}),
              },
            }
          : {}),
      });
      progress('');
      if (options.json) process.stdout.write(`${JSON.stringify(created)}\n`);
      else {
        process.stdout.write(`${created.voice}\n`);
        if (created.fallbackReason) process.stderr.write(`note: ${created.fallbackReason}\n`);
      }
    }),
  );

  withClientFlags(
    voices.command('list').description('list voices, newest first').option('--page <n>', 'page index', '0').option('--page-size <n>', 'voices per page', '20').option('--all', 'every page'),
  ).action((options: Record<string, unknown>) =>
    run(async () => {
      const client = clientFrom(options);
      const found = [];
      let total = 0;
      if (options.all) {
        for await (const voice of client.voices.iterate()) found.push(voice);
        total = found.length;
      } else {
        const page = await client.voices.list({ pageIndex: Number(options.page), pageSize: Number(options.pageSize) });
        found.push(...page.voices);
        total = page.totalCount;
      }
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ voices: found, totalCount: total })}\n`);
        return;
      }
      printTable(
        ['VOICE', 'TARGET MODEL', 'LANGUAGE', 'CREATED (UTC)', 'CONSENT'],
        found.map((voice) => [voice.voice, voice.targetModel, voice.language ?? '-', voice.gmtCreate, voice.consent?.method ?? '-']),
      );
      if (!options.all && total > found.length) process.stderr.write(`(${found.length} of ${total}; --page, --page-size or --all for more)\n`);
    }),
  );

  withClientFlags(voices.command('delete').description('delete a voice').argument('<voice>', 'voice name')).action((voice: string, options: Record<string, unknown>) =>
    run(async () => {
      await clientFrom(options).voices.delete(voice);
      if (options.json) process.stdout.write(`${JSON.stringify({ deleted: voice })}\n`);
      else process.stdout.write(`deleted ${voice}\n`);
    }),
  );

  withClientFlags(voices.command('audit').description('who created, deleted or expired which voice, with consent').option('--limit <n>', 'entries', '100')).action(
    (options: Record<string, unknown>) =>
      run(async () => {
        const entries = await clientFrom(options).voices.audit(Number(options.limit));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(entries)}\n`);
          return;
        }
        printTable(
          ['WHEN (UTC)', 'EVENT', 'VOICE', 'BY', 'CONSENT'],
          entries.map((entry) => [entry.gmtEvent, entry.event, entry.voice, entry.actor, entry.consent ? `${entry.consent.method}: ${entry.consent.statement}` : '-']),
        );
      }),
  );

  const watermark = program.command('watermark').description('provenance of audio');
  withClientFlags(
    watermark
      .command('detect')
      .description('is FILE (or URL) speech this server made, and from which of your voices? exit 0 when marked, 1 when not (like grep)')
      .argument('<file>', 'audio file (wav, mp3, m4a, ogg/opus, flac, aac) or public URL'),
  ).action((file: string, options: Record<string, unknown>) =>
    run(async () => {
      const verdict = await clientFrom(options).watermark.detect(file);
      if (options.json) process.stdout.write(`${JSON.stringify(verdict)}\n`);
      else if (!verdict.watermarked) process.stdout.write(`no Timbre watermark of this server found (confidence it is marked: ${verdict.confidence.toFixed(3)})\n`);
      else {
        const whose = verdict.voice ? `made with your voice ${verdict.voice} (account ${verdict.account})` : 'made by this server, with a voice of another account';
        process.stdout.write(`watermarked: ${whose}; confidence ${verdict.confidence.toFixed(6)}\n`);
      }
      process.exitCode = verdict.watermarked ? exitCodes.ok : exitCodes.failure;
    }),
  );

  withClientFlags(
    program
      .command('say')
      .description('speak text in a voice, to a file or stdout')
      .argument('<text>', 'what to say')
      .requiredOption('--voice <voice>', 'voice name')
      .option('-o, --output <file>', 'audio file to write (default: stdout)')
      .option('--format <format>', 'wav, mp3, opus, aac, flac or pcm (default: from the file extension, else wav)')
      .option('--speed <speed>', '0.25-4.0', '1'),
  ).action((text: string, options: Record<string, unknown>) =>
    run(async () => {
      const client = clientFrom(options);
      const voiceName = String(options.voice);
      let targetModel: string | null = null;
      for await (const voice of client.voices.iterate()) {
        if (voice.voice === voiceName) targetModel = voice.targetModel;
      }
      if (!targetModel) throw new TimbreApiError('InvalidParameter', `voice ${JSON.stringify(voiceName)} does not exist in this account`, 400, null);
      const output = options.output as string | undefined;
      const format = String(options.format ?? (output ? extname(output).slice(1).toLowerCase() || 'wav' : 'wav'));
      const response = await client.request('/v1/audio/speech', { model: targetModel, input: text, voice: voiceName, response_format: format, speed: Number(options.speed) });
      let bytes = 0;
      const counted = async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          progress(`${(bytes / 1024).toFixed(0)} KiB received`);
          yield chunk;
        }
      };
      const sink = output ? createWriteStream(output) : (process.stdout as unknown as Writable);
      await pipeline(counted(response.body as unknown as AsyncIterable<Uint8Array>), sink);
      progress('');
      if (output) process.stderr.write(`${options.json ? '' : `wrote ${bytes} bytes of ${format} to ${output}\n`}`);
      if (options.json && output) process.stdout.write(`${JSON.stringify({ file: join(output), format, bytes, engine: response.headers.get('x-timbre-engine') })}\n`);
    }),
  );
}
