import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KyselyRepository } from '../src/store/kysely-repository.js';
import { openPostgres } from '../src/store/postgres.js';
import { createBody, dataUrl, enrollmentPath, testCacheDir } from './helpers.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { spawnServer, stopProcess, type ServerProcess } from './process.js';

// Two stateless Timbre processes on one real PostgreSQL (a throwaway cluster on loopback).
let database: TestPostgres;
const dirs: string[] = [];
let nodeA: ServerProcess;
let nodeB: ServerProcess;
let key = '';
const quota = 6;

async function node(): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'timbre-node-'));
  dirs.push(dataDir);
  return spawnServer(['--data-dir', dataDir], { TIMBRE_DATABASE_URL: database.url, TIMBRE_VOICE_QUOTA: String(quota), TIMBRE_CACHE_DIR: testCacheDir });
}

async function post(server: ServerProcess, path: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const list = async (server: ServerProcess) => (await post(server, enrollmentPath, { model: 'qwen-voice-enrollment', input: { action: 'list', page_size: 100 } })).body.output as { voice_list: { voice: string }[]; total_count: number };

before(async () => {
  database = await startPostgres();
  nodeA = await node();
  key = readFileSync(join(dirs[0]!, 'default-api-key'), 'utf8').trim();
  nodeB = await node();
});
after(async () => {
  await Promise.all([nodeA, nodeB].filter(Boolean).map((server) => stopProcess(server.child)));
  await database?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('scale-out: two nodes on one PostgreSQL', () => {
  it('a voice created on node A is listed, spoken (link served by A) and deleted through node B', async () => {
    const created = await post(nodeA, enrollmentPath, createBody({ target_model: 'qwen3-tts-vc-2026-01-22', preferred_name: 'shared' }, dataUrl('human-en.wav')));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const voice = created.body.output.voice as string;
    assert.ok((await list(nodeB)).voice_list.some((listed) => listed.voice === voice));

    const spoken = await post(nodeB, '/api/v1/services/aigc/multimodal-generation/generation', { model: 'qwen3-tts-vc-2026-01-22', input: { text: 'Spoken by node B, fetched from node A.', voice } });
    assert.equal(spoken.status, 200, JSON.stringify(spoken.body));
    // The link names node B; the same path and signature work on node A (shared secret and blobs).
    const link = new URL(spoken.body.output.audio.url as string);
    const fromA = await fetch(nodeA.url + link.pathname + link.search);
    assert.equal(fromA.status, 200);
    assert.equal(Buffer.from(await fromA.arrayBuffer()).subarray(0, 4).toString('latin1'), 'RIFF');
    const reference = await fetch(`${nodeB.url}/api/v1/voices/${voice}/reference`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(reference.status, 200, 'the reference blob is in the database');

    const deleted = await post(nodeB, enrollmentPath, { model: 'qwen-voice-enrollment', input: { action: 'delete', voice } });
    assert.equal(deleted.status, 200);
    assert.equal((await list(nodeA)).voice_list.some((listed) => listed.voice === voice), false);
    const audit = await fetch(`${nodeA.url}/api/v1/voices/audit`, { headers: { authorization: `Bearer ${key}` } });
    const events = ((await audit.json()) as { output: { entries: { voice: string; event: string }[] } }).output.entries.filter((entry) => entry.voice === voice);
    assert.deepEqual(events.map((entry) => entry.event), ['deleted', 'created']);
  });

  it('concurrent creates on both nodes never exceed the quota', async () => {
    const reference = dataUrl('low.wav');
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, index) => post(index % 2 === 0 ? nodeA : nodeB, enrollmentPath, createBody({ preferred_name: `q${index}` }, reference))),
    );
    const accepted = results.filter((result) => result.status === 200);
    const refused = results.filter((result) => result.status !== 200);
    assert.equal(accepted.length, quota, JSON.stringify(results.map((result) => result.body.code ?? 'ok')));
    for (const result of refused) assert.equal(result.body.code, 'AccessDenied');
    assert.equal((await list(nodeA)).total_count, quota);
    assert.equal((await list(nodeB)).total_count, quota);
  });

  it('no acknowledged write is lost when a node is killed (-9) during a burst', async () => {
    // Make room, then create and delete on node A while it is killed.
    for (const { voice } of (await list(nodeA)).voice_list) await post(nodeB, enrollmentPath, { model: 'qwen-voice-enrollment', input: { action: 'delete', voice } });
    const acknowledged = new Set<string>();
    const deletedOk = new Set<string>();
    let stop = false;
    const reference = dataUrl('low.wav');
    const worker = async (id: number) => {
      for (let n = 0; !stop; n += 1) {
        try {
          const gone = [...acknowledged].find((voice) => !deletedOk.has(voice));
          if (n % 3 === 2 && gone) {
            deletedOk.add(gone); // in flight: it may land
            const result = await post(nodeA, enrollmentPath, { model: 'qwen-voice-enrollment', input: { action: 'delete', voice: gone } });
            if (result.status !== 200) deletedOk.delete(gone);
          } else {
            const result = await post(nodeA, enrollmentPath, createBody({ preferred_name: `k${id}n${n}` }, reference));
            if (result.status === 200) acknowledged.add(result.body.output.voice);
          }
        } catch {
          return;
        }
      }
    };
    const workers = [0, 1].map(worker);
    for (let waited = 0; acknowledged.size < 3 && waited < 30_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 120));
    await stopProcess(nodeA.child, 'SIGKILL');
    stop = true;
    await Promise.all(workers);
    nodeA = await node();

    const listed = new Set((await list(nodeB)).voice_list.map((entry) => entry.voice));
    for (const voice of acknowledged) if (!deletedOk.has(voice)) assert.ok(listed.has(voice), `acknowledged ${voice} survived`);
    // Every listed voice is whole: its reference is readable from either node.
    for (const voice of listed) {
      const response = await fetch(`${nodeA.url}/api/v1/voices/${voice}/reference`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 200, voice);
    }
  });

  it('runs a cluster-wide job on one node at a time (advisory lock)', async () => {
    const [first, second] = [new KyselyRepository(await openPostgres(database.url, 2), 'postgres'), new KyselyRepository(await openPostgres(database.url, 2), 'postgres')];
    try {
      let release!: () => void;
      const holding = first.runExclusive('retention', () => new Promise<string>((resolve) => (release = () => resolve('ran'))));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await second.runExclusive('retention', async () => 'also ran'), null, 'skipped while another node holds the job');
      release();
      assert.equal(await holding, 'ran');
      assert.equal(await second.runExclusive('retention', async () => 'ran after'), 'ran after');
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
