import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { audioPath, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
// Debian's Python, where python3-requests is installed (a pyenv python3 may come first on PATH).
const python = '/usr/bin/python3';
const seedDir = join(packageRoot, 'test', 'seed');

let server: TestServer;
let origin: Server;
let audioUrl: string;

before(async () => {
  server = await startTestServer({ TIMBRE_FETCH_ALLOW_CIDRS: '127.0.0.1/32' });
  origin = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'audio/wav' });
    response.end(readFileSync(audioPath('human-en.wav')));
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  audioUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/xxx.wav`;
});
after(async () => {
  await server.stop();
  origin.close();
});

const env = () => ({ ...process.env, DASHSCOPE_API_KEY: server.key, SEED_BASE_URL: server.url });

describe("the provider's curl examples, with only the URL and key changed", () => {
  let created = '';
  it('create (audio by URL)', async () => {
    const script = `curl -X POST ${server.url}/api/v1/services/audio/tts/customization \\
-H "Authorization: Bearer $DASHSCOPE_API_KEY " \\
-H "Content-Type: application/json" \\
-d '{
"model": "qwen-voice-enrollment",
"input": {
"action": "create",
"target_model": "qwen3-tts-vc-realtime-2026-01-15",
"preferred_name": "guanyu",
"audio": {
"data": "${audioUrl}"
}
}
}'`;
    const { stdout } = await run('bash', ['-c', script], { env: env() });
    const body = JSON.parse(stdout);
    assert.match(body.output.voice, /^qwen-tts-vc-guanyu-voice-\d{17}-[0-9a-f]{4}$/);
    assert.equal(body.output.target_model, 'qwen3-tts-vc-realtime-2026-01-15');
    assert.deepEqual(body.usage, { count: 1 });
    created = body.output.voice;
  });

  it('list', async () => {
    // The provider's example single-quotes the header, so the key is written in place of $DASHSCOPE_API_KEY.
    const script = `curl --location --request POST '${server.url}/api/v1/services/audio/tts/customization' \\
--header 'Authorization: Bearer ${server.key}' \\
--header 'Content-Type: application/json' \\
--data '{
"model": "qwen-voice-enrollment",
"input": {
"action": "list",
"page_size": 10,
"page_index": 0
}
}'`;
    const body = JSON.parse((await run('bash', ['-c', script])).stdout);
    assert.ok(body.output.voice_list.some((voice: { voice: string }) => voice.voice === created));
  });

  it('delete', async () => {
    const script = `curl --location --request POST '${server.url}/api/v1/services/audio/tts/customization' \\
--header 'Authorization: Bearer ${server.key}' \\
--header 'Content-Type: application/json' \\
--data '{
"model": "qwen-voice-enrollment",
"input": {
"action": "delete",
"voice": "${created}"
}
}'`;
    const body = JSON.parse((await run('bash', ['-c', script])).stdout);
    assert.deepEqual(body.usage, { count: 0 });
    assert.equal(typeof body.request_id, 'string');
  });
});

describe("the provider's Python (requests) examples, with only the URL, key and file changed", () => {
  let created = '';
  it('create from an mp3 data URL (with the example\'s spaces in "data: audio/mpeg ;base64, ...")', async () => {
    const { stdout } = await run(python, [join(seedDir, 'create.py')], { env: { ...env(), SEED_AUDIO_FILE: audioPath('low.mp3') } });
    const match = /^Generated voice parameter: (qwen-tts-vc-guanyu-voice-\d{17}-[0-9a-f]{4})$/m.exec(stdout);
    assert.ok(match, stdout);
    created = match[1]!;
  });

  it('list', async () => {
    const { stdout } = await run(python, [join(seedDir, 'list.py')], { env: env() });
    assert.match(stdout, /^HTTP status code: 200$/m);
    assert.match(stdout, new RegExp(`^- Voice: ${created} Creation time: \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} Model: qwen3-tts-vc-realtime-2026-01-15$`, 'm'));
  });

  it('delete', async () => {
    const { stdout } = await run(python, [join(seedDir, 'delete.py')], { env: { ...env(), SEED_VOICE: created } });
    assert.match(stdout, /^HTTP status code: 200\nDeletion successful\nRequest ID: [0-9a-f-]{36}$/m);
  });
});
