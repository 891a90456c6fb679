import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBody, dataUrl, enrollmentPath } from './helpers.js';
import { spawnServer, stopProcess } from './process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'timbre-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function post(url: string, key: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url + enrollmentPath, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('no acknowledged write is lost: kill -9 during a burst of creates and deletes', () => {
  it('keeps every acknowledged voice whole, and no half voice, across three crashes', async () => {
    const reference = dataUrl('human-en.wav');
    const acknowledgedCreates = new Set<string>();
    const acknowledgedDeletes = new Set<string>();
    let key = '';
    for (let round = 0; round < 3; round += 1) {
      const server = await spawnServer(['--data-dir', dataDir]);
      key ||= readFileSync(join(dataDir, 'default-api-key'), 'utf8').trim();
      let stop = false;
      const worker = async (id: number) => {
        let n = 0;
        while (!stop) {
          n += 1;
          try {
            const deletable = [...acknowledgedCreates].find((voice) => !acknowledgedDeletes.has(voice));
            if (n % 3 === 0 && deletable) {
              acknowledgedDeletes.add(deletable); // a delete in flight may land; count it as possibly gone
              const result = await post(server.url, key, { model: 'qwen-voice-enrollment', input: { action: 'delete', voice: deletable } });
              if (result.status !== 200) acknowledgedDeletes.delete(deletable);
            } else {
              const result = await post(server.url, key, createBody({ preferred_name: `r${round}w${id}n${n}` }, reference));
              if (result.status === 200) acknowledgedCreates.add(result.body.output.voice);
            }
          } catch {
            return; // the server died mid-request: that request is unacknowledged
          }
        }
      };
      const workers = [0, 1, 2].map(worker);
      // Kill once this round has acknowledged a few creates (how long that takes depends on the
      // machine), at a different moment in each round.
      const before = acknowledgedCreates.size;
      for (let waited = 0; acknowledgedCreates.size < before + 2 && waited < 30_000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 150 + round * 170));
      await stopProcess(server.child, 'SIGKILL');
      stop = true;
      await Promise.all(workers);
    }

    const server = await spawnServer(['--data-dir', dataDir]);
    try {
      const listed = await post(server.url, key, { model: 'qwen-voice-enrollment', input: { action: 'list', page_size: 1000 } });
      const names = new Set<string>(listed.body.output.voice_list.map((voice: { voice: string }) => voice.voice));
      const kept = [...acknowledgedCreates].filter((voice) => !acknowledgedDeletes.has(voice));
      assert.ok(acknowledgedCreates.size >= 5, `the burst made ${acknowledgedCreates.size} voices`);
      for (const voice of kept) assert.ok(names.has(voice), `acknowledged voice ${voice} survived`);
      for (const voice of names) assert.match(voice, /^qwen-tts-vc-r\dw\dn\d+-voice-/, 'nothing but requested voices');
      // Every listed voice is whole, and nothing else is on disk after the start-up sweep.
      const blobDirs = readdirSync(join(dataDir, 'blobs'));
      assert.deepEqual(new Set(blobDirs), names);
      for (const voice of names) {
        assert.ok(existsSync(join(dataDir, 'blobs', voice, 'reference.wav')), voice);
        assert.equal(readdirSync(join(dataDir, 'blobs', voice)).length, 2, voice);
      }
      assert.deepEqual(readdirSync(join(dataDir, 'tmp')), []);
    } finally {
      await stopProcess(server.child);
    }
  });
});
