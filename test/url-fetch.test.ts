import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { audioPath, createBody, startTestServer, type TestServer } from './helpers.js';

let allowing: TestServer;
let strict: TestServer;
let origin: Server;
let base: string;

const files: Record<string, [string, string]> = {
  '/voice.wav': ['low.wav', 'audio/wav'],
  '/voice.mp3': ['low.mp3', 'audio/mpeg'],
  '/voice.m4a': ['low.m4a', 'audio/mp4'],
  '/human.wav': ['human-en.wav', 'audio/wav'],
};

before(async () => {
  origin = createServer((request, response) => {
    const path = request.url ?? '/';
    const file = files[path];
    if (file) {
      response.writeHead(200, { 'content-type': file[1] });
      response.end(readFileSync(audioPath(file[0])));
    } else if (path === '/redirect-local') {
      response.writeHead(302, { location: '/voice.wav' });
      response.end();
    } else if (path === '/redirect-private') {
      response.writeHead(302, { location: 'http://10.1.2.3/voice.wav' });
      response.end();
    } else if (path === '/redirect-metadata') {
      response.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' });
      response.end();
    } else if (path === '/redirect-file') {
      response.writeHead(302, { location: 'file:///etc/passwd' });
      response.end();
    } else if (path === '/redirect-loop') {
      response.writeHead(302, { location: '/redirect-loop' });
      response.end();
    } else if (path === '/huge-declared') {
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(500 * 1024 * 1024) });
      response.write(Buffer.alloc(1024));
      // Never finishes: the client must stop on the header alone.
    } else if (path === '/huge-chunked') {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = () => {
        while (sent < 200 && response.write(chunk)) sent += 1;
        if (sent < 200) response.once('drain', pump);
        else response.end();
      };
      pump();
    } else if (path === '/truncated') {
      const bytes = readFileSync(audioPath('low.wav'));
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(bytes.length) });
      response.write(bytes.subarray(0, 1000));
      setTimeout(() => response.destroy(), 50);
    } else if (path === '/slow') {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.write(Buffer.alloc(100));
    } else if (path === '/private') {
      response.writeHead(401);
      response.end();
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  allowing = await startTestServer({ TIMBRE_FETCH_ALLOW_CIDRS: '127.0.0.1/32', TIMBRE_FETCH_MAX_BYTES: String(4 * 1024 * 1024), TIMBRE_FETCH_TIMEOUT_MS: '1500' });
  strict = await startTestServer();
});
after(async () => {
  await allowing.stop();
  await strict.stop();
  origin.closeAllConnections();
  origin.close();
});

describe('create: audio.data as a public URL', () => {
  for (const path of Object.keys(files)) {
    it(`fetches ${path} from a server the operator allowed`, async () => {
      const result = await allowing.enroll(createBody({}, `${base}${path}`));
      assert.equal(result.status, 200, JSON.stringify(result.body));
    });
  }

  it('follows a redirect that stays on an allowed address', async () => {
    const result = await allowing.enroll(createBody({}, `${base}/redirect-local`));
    assert.equal(result.status, 200, JSON.stringify(result.body));
  });

  it('refuses a redirect into a private range or to the metadata address, without connecting', async () => {
    for (const path of ['/redirect-private', '/redirect-metadata']) {
      const result = await allowing.enroll(createBody({}, `${base}${path}`));
      assert.equal(result.status, 400);
      assert.equal(result.body.code, 'InvalidURL');
      assert.match(result.body.message, /not public: (10\.1\.2\.3 is a private|169\.254\.169\.254 is a linkLocal) address/);
    }
  });

  it('refuses a redirect to another scheme, and redirect loops', async () => {
    assert.match((await allowing.enroll(createBody({}, `${base}/redirect-file`))).body.message, /scheme file/);
    assert.match((await allowing.enroll(createBody({}, `${base}/redirect-loop`))).body.message, /redirected more than 5 times/);
  });

  it('cuts off a body over the size limit, declared or not, with BadRequest.TooLarge', async () => {
    for (const path of ['/huge-declared', '/huge-chunked']) {
      const result = await allowing.enroll(createBody({}, `${base}${path}`));
      assert.equal(result.status, 413, path);
      assert.equal(result.body.code, 'BadRequest.TooLarge');
    }
  });

  it('refuses truncated transfers, slow servers, errors and auth-protected URLs', async () => {
    const truncated = await allowing.enroll(createBody({}, `${base}/truncated`));
    assert.equal(truncated.body.code, 'InvalidURL', JSON.stringify(truncated.body));
    const slow = await allowing.enroll(createBody({}, `${base}/slow`));
    assert.match(slow.body.message, /in time/);
    assert.match((await allowing.enroll(createBody({}, `${base}/missing`))).body.message, /HTTP 404/);
    assert.match((await allowing.enroll(createBody({}, `${base}/private`))).body.message, /HTTP 401/);
  });

  it('refuses loopback, private, link-local and IPv6 forms by default', async () => {
    const port = (origin.address() as AddressInfo).port;
    const urls = [
      `${base}/voice.wav`,
      `http://localhost:${port}/voice.wav`,
      `http://[::1]:${port}/voice.wav`,
      `http://[::ffff:127.0.0.1]:${port}/voice.wav`,
      'http://[fe80::1]/voice.wav',
      'http://[fd00::1]/voice.wav',
      'http://192.168.1.10/voice.wav',
      'http://172.16.0.1/voice.wav',
      'http://100.64.0.1/voice.wav',
      'http://0.0.0.0/voice.wav',
      'http://169.254.169.254/latest/meta-data/',
      'http://2130706433/voice.wav',
      'http://0x7f000001/voice.wav',
    ];
    for (const url of urls) {
      const result = await strict.enroll(createBody({}, url));
      assert.equal(result.status, 400, url);
      assert.equal(result.body.code, 'InvalidURL', url);
      assert.match(result.body.message, /not public/, url);
    }
  });

  it('refuses malformed URLs and other schemes', async () => {
    for (const data of ['ftp://example.com/a.wav', 'file:///etc/passwd', 'not a url', 'http://user:pass@example.com/a.wav', 'gopher://x']) {
      const result = await strict.enroll(createBody({}, data));
      assert.equal(result.status, 400, data);
      assert.equal(result.body.code, 'InvalidURL', data);
    }
  });
});
