import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../src/config.js';
import { enrollmentPath } from './helpers.js';
import { spawnServer, stopProcess, timbreBin } from './process.js';

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'timbre-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function timbre(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [timbreBin, ...args], { env: { ...process.env, ...env } });
}

async function listStatus(url: string, key: string): Promise<number> {
  const response = await fetch(url + enrollmentPath, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'qwen-voice-enrollment', input: { action: 'list' } }),
  });
  return response.status;
}

describe('configuration: read once, validated, named in errors', () => {
  it('defaults to 127.0.0.1:8080 and ./data', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, resolve('data'));
    assert.equal(config.voiceQuota, 1000);
    assert.equal(config.retentionDays, 365);
  });

  it('takes flags over environment variables', () => {
    const config = loadConfig({ PORT: '9000', TIMBRE_VOICE_QUOTA: '5' }, { port: '9001' });
    assert.equal(config.port, 9001);
    assert.equal(config.voiceQuota, 5);
  });

  it('refuses unknown TIMBRE_ settings and invalid values, naming the setting', () => {
    assert.throws(() => loadConfig({ TIMBRE_VOICE_QUOTE: '5' }), (error: Error) => error instanceof ConfigError && /unknown setting TIMBRE_VOICE_QUOTE/.test(error.message));
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /invalid setting PORT="eighty"/);
    assert.throws(() => loadConfig({ TIMBRE_VOICE_QUOTA: '0' }), /invalid setting TIMBRE_VOICE_QUOTA="0"/);
    assert.throws(() => loadConfig({}, { logLevel: 'loud' }), /invalid setting --log-level="loud"/);
  });

  it('makes `timbre serve` exit with code 3 and the setting\'s name', async () => {
    await assert.rejects(timbre(['serve'], { TIMBRE_DATA_DIR: dataDir, TIMBRE_NOPE: '1' }), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 3);
      assert.match(error.stderr, /unknown setting TIMBRE_NOPE/);
      return true;
    });
    await assert.rejects(timbre(['serve', '--port', '70000', '--data-dir', dataDir]), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 3);
      assert.match(error.stderr, /--port="70000"/);
      return true;
    });
  });
});

describe('first start and the CLI share one data dir', () => {
  it('prints the base URL and a key for account default, kept in a 0600 file; keys from the CLI work at once', async () => {
    const server = await spawnServer(['--data-dir', dataDir]);
    try {
      const printed = /API key \(account "default"\): (sk-timbre-\w+)/.exec(server.output());
      assert.ok(printed, server.output());
      const keyFile = join(dataDir, 'default-api-key');
      assert.equal(readFileSync(keyFile, 'utf8').trim(), printed[1]);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      assert.equal(await listStatus(server.url, printed[1]!), 200);

      const created = await timbre(['keys', 'create', '--account', 'alice', '--data-dir', dataDir]);
      const aliceKey = created.stdout.trim();
      assert.match(aliceKey, /^sk-timbre-[A-Za-z0-9]{32}$/);
      assert.equal(await listStatus(server.url, aliceKey), 200);

      const listed = await timbre(['keys', 'list', '--data-dir', dataDir]);
      assert.match(listed.stdout, /^ID\s+KEY\s+ACCOUNT\s+CREATED\s+STATE$/m);
      assert.match(listed.stdout, /alice\s+\S+\s+active/);
      assert.ok(!listed.stdout.includes(aliceKey), 'listing never shows a whole key');
      const listedJson = JSON.parse((await timbre(['keys', 'list', '--json', '--data-dir', dataDir])).stdout) as { id: string; accountName: string }[];
      const alice = listedJson.find((key) => key.accountName === 'alice')!;

      await timbre(['keys', 'revoke', alice.id, '--data-dir', dataDir]);
      assert.equal(await listStatus(server.url, aliceKey), 401);
      await assert.rejects(timbre(['keys', 'revoke', alice.id, '--data-dir', dataDir]), (error: { code: number }) => error.code === 4);
    } finally {
      await stopProcess(server.child);
    }
    // A second start prints the same key again, from its file.
    const again = await spawnServer(['--data-dir', dataDir]);
    try {
      assert.match(again.output(), new RegExp(readFileSync(join(dataDir, 'default-api-key'), 'utf8').trim()));
    } finally {
      await stopProcess(again.child);
    }
  });

  it('exits with code 2 on a usage error', async () => {
    await assert.rejects(timbre(['keys', 'create']), (error: { code: number }) => error.code === 2);
    await assert.rejects(timbre(['frobnicate']), (error: { code: number }) => error.code === 2);
  });
});
