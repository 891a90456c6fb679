import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { audioPath, probeAudio } from './helpers.js';
import { spawnServer, stopProcess, timbreBin, type ServerProcess } from './process.js';

// The built `timbre` command in a subprocess against a server in another process.
const dataDir = mkdtempSync(join(tmpdir(), 'timbre-cli-client-'));
const outDir = mkdtempSync(join(tmpdir(), 'timbre-cli-out-'));
let server: ServerProcess;
let key = '';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

function timbre(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [timbreBin, ...args],
      { env: { ...process.env, TIMBRE_URL: server.url, TIMBRE_API_KEY: key, ...env }, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString(), stdoutBytes: stdout });
      },
    );
  });
}

before(async () => {
  server = await spawnServer(['--data-dir', dataDir]);
  key = readFileSync(join(dataDir, 'default-api-key'), 'utf8').trim();
});
after(async () => {
  await stopProcess(server.child);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

describe('CLI: voices and say against a running server', () => {
  let voice = '';

  it('voices create prints the voice name (JSON with --json) and exits 0', async () => {
    // Spoken consent with its audio (--consent-audio implies method spoken): verified by the server.
    const statement = readFileSync(audioPath('human-en-consent.txt'), 'utf8');
    const created = await timbre(['voices', 'create', '--file', audioPath('human-en.wav'), '--name', 'cli', '--target-model', 'qwen3-tts-vc-2026-01-22', '--consent', statement, '--consent-audio', audioPath('human-en-consent.wav')]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^qwen-tts-vc-cli-voice-\d{17}-[0-9a-f]{4}\n$/);
    voice = created.stdout.trim();
    const json = await timbre(['voices', 'create', '--file', audioPath('low.mp3'), '--name', 'second', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { voice: string; targetModel: string; fallbackMode: boolean };
    assert.match(parsed.voice, /^qwen-tts-vc-second-voice-/);
    assert.equal(parsed.targetModel, 'qwen3-tts-vc-realtime-2026-01-15');
  });

  it('voices list prints a table, or JSON with --json', async () => {
    const table = await timbre(['voices', 'list']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^VOICE\s+TARGET MODEL\s+LANGUAGE\s+CREATED \(UTC\)\s+CONSENT$/);
    assert.equal(lines.length, 3);
    assert.match(table.stdout, new RegExp(`${voice}\\s+qwen3-tts-vc-2026-01-22\\s+-\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+spoken`));
    const json = JSON.parse((await timbre(['voices', 'list', '--json'])).stdout) as { voices: { voice: string }[]; totalCount: number };
    assert.equal(json.totalCount, 2);
    const paged = await timbre(['voices', 'list', '--page-size', '1']);
    assert.match(paged.stderr, /\(1 of 2; --page, --page-size or --all for more\)/);
    const all = JSON.parse((await timbre(['voices', 'list', '--all', '--json'])).stdout) as { voices: unknown[] };
    assert.equal(all.voices.length, 2);
  });

  it('say writes the format of the file extension, or WAV to stdout', async () => {
    const file = join(outDir, 'hello.mp3');
    const said = await timbre(['say', '--voice', voice, 'Hello from the command line. It works.', '-o', file]);
    assert.equal(said.code, 0, said.stderr);
    assert.match(said.stderr, /wrote \d+ bytes of mp3 to /);
    const probed = await probeAudio(readFileSync(file), 'mp3');
    assert.equal(probed.codec, 'mp3');
    assert.ok(probed.seconds > 1.5, `${probed.seconds} s`);

    const piped = await timbre(['say', '--voice', voice, 'To standard output.']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdoutBytes.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.ok((await probeAudio(piped.stdoutBytes, 'wav')).seconds > 0.8);
  });

  it('exit codes: 2 usage, 3 bad key, 4 unknown voice, 5 server down, 1 refused audio', async () => {
    const usage = await timbre(['voices', 'create', '--name', 'x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /required option '--file <path>'/);

    const badKey = await timbre(['voices', 'list'], { TIMBRE_API_KEY: 'sk-timbre-wrong' });
    assert.equal(badKey.code, 3);
    assert.match(badKey.stderr, /^timbre: InvalidApiKey: .*\(request [0-9a-f-]{36}\)\n$/);

    const unknown = await timbre(['voices', 'delete', 'qwen-tts-vc-nobody-voice-20260101000000000-0000']);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /does not exist in this account/);
    const unknownSay = await timbre(['say', '--voice', 'nobody', 'hi', '-o', join(outDir, 'x.wav')]);
    assert.equal(unknownSay.code, 4);

    const down = await timbre(['voices', 'list'], { TIMBRE_URL: 'http://127.0.0.1:9' });
    assert.equal(down.code, 5);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);

    const refused = await timbre(['voices', 'create', '--file', audioPath('silence.wav'), '--name', 'quiet']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^timbre: Audio\.PreprocessError: /);
  });

  it('voices delete, then voices audit shows who did it', async () => {
    const deleted = await timbre(['voices', 'delete', voice]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deleted ${voice}\n`);
    const audit = await timbre(['voices', 'audit']);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /^WHEN \(UTC\)\s+EVENT\s+VOICE\s+BY\s+CONSENT\n/);
    assert.match(audit.stdout, new RegExp(`deleted\\s+${voice}\\s+key ${key.slice(0, 16)}…\\s+spoken: Please enter your conference number`));
    const json = JSON.parse((await timbre(['voices', 'audit', '--json'])).stdout) as { event: string }[];
    assert.deepEqual(json.map((entry) => entry.event), ['deleted', 'created', 'created']);
  });
});
