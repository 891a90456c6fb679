/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { audioPath, probeAudio, startTestServer, type TestServer } from './helpers.js';

// The web studio in Debian's chromium (installed by scripts/setup-test-env.sh), headless, with
// a fake microphone that plays a human recording. Screenshots of each step: test/.artifacts/.
const artifacts = join(packageRoot, 'test', '.artifacts');
let server: TestServer;
let browser: Browser;
let page: Page;
let step = 0;

async function screenshot(name: string): Promise<void> {
  step += 1;
  await page.screenshot({ path: join(artifacts, `studio-${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function statusOf(id: string): Promise<{ text: string; kind: string | undefined }> {
  return page.locator(`#${id}`).evaluate((element: HTMLElement) => ({ text: element.textContent ?? '', kind: element.dataset.kind }));
}

/** Waits until the status line `id` says something of `kind` (ok / error), and returns it. */
async function waitForStatus(id: string, kind: 'ok' | 'error'): Promise<string> {
  await page.waitForFunction(({ id, kind }) => document.getElementById(id)?.dataset.kind === kind, { id, kind }, { timeout: 60_000 });
  return (await statusOf(id)).text;
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await startTestServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${audioPath('human-en.wav')}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(server.url + '/');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('web studio: a person clones a voice in the browser', () => {
  it('is served at / without a key, and explains a wrong key in plain words', async () => {
    assert.equal(await page.title(), 'Timbre studio');
    await page.fill('#api-key', 'sk-wrong');
    await page.click('#key-form button[type=submit]');
    const message = await waitForStatus('key-status', 'error');
    assert.match(message, /API key was not accepted/);
    assert.match(message, /request [0-9a-f-]{36}/, 'the request id is shown');
    await screenshot('wrong-key');
  });

  it('remembers the key in the browser', async () => {
    await page.fill('#api-key', server.key);
    await page.click('#key-form button[type=submit]');
    assert.equal(await waitForStatus('key-status', 'ok'), 'Key accepted.');
    await page.reload();
    assert.equal(await page.inputValue('#api-key'), server.key);
    assert.equal(await waitForStatus('key-status', 'ok'), 'Key accepted.');
    assert.match(await page.textContent('#page-info') ?? '', /No voices yet/);
  });

  it('records from the microphone with a level meter and a length guide, and creates a voice with consent', async () => {
    await page.click('#record');
    await page.waitForFunction(() => Number((document.getElementById('level') as HTMLMeterElement).value) > 0.02, undefined, { timeout: 10_000 });
    assert.match(await page.textContent('#guide') ?? '', /Keep reading/);
    await screenshot('recording');
    await page.waitForFunction(() => parseFloat(document.getElementById('elapsed')!.textContent!) >= 12, undefined, { timeout: 30_000 });
    assert.match(await page.textContent('#guide') ?? '', /Good length/);
    await page.click('#stop');
    await page.waitForFunction(() => !(document.getElementById('create') as HTMLButtonElement).disabled);
    assert.match((await statusOf('create-status')).text, /Recording of 1\d\.\d s ready/);

    await page.fill('#voice-name', 'mic');
    await page.selectOption('#voice-language', 'en');
    await page.selectOption('#voice-model', 'qwen3-tts-vc-2026-01-22');
    await page.check('#consent');
    await page.click('#create');
    const verdict = await waitForStatus('create-status', 'ok');
    assert.match(verdict, /^Voice qwen-tts-vc-mic-voice-\d{17}-[0-9a-f]{4} is ready, made from 1\d(\.\d+)? s of speech\./);
    await screenshot('created-from-microphone');

    const row = page.locator('#voices tbody tr').first();
    assert.match(await row.getAttribute('data-voice') ?? '', /^qwen-tts-vc-mic-voice-/);
    assert.match(await row.textContent() ?? '', /qwen3-tts-vc-2026-01-22.*checkbox, \d{4}-\d\d-\d\d/);
  });

  it('plays the reference the voice was made from', async () => {
    await page.locator('#voices tbody tr').first().getByRole('button', { name: 'Play reference' }).click();
    await page.waitForFunction(() => {
      const player = document.getElementById('reference-player') as HTMLAudioElement;
      return !player.hidden && player.duration > 5 && player.currentTime > 0;
    }, undefined, { timeout: 15_000 });
  });

  it('speaks typed text in the voice as it streams, and offers the WAV for download', async () => {
    await page.fill('#speak-text', 'The weather is lovely today. Let us walk to the harbour and watch the boats come in.');
    await page.click('#speak');
    const done = await waitForStatus('speak-status', 'ok');
    const seconds = Number(/Spoke (\d+\.\d) s/.exec(done)?.[1]);
    assert.ok(seconds > 3 && seconds < 15, done);
    await screenshot('spoken');
    const wav = await page.evaluate(async () => {
      const response = await fetch((document.getElementById('download') as HTMLAnchorElement).href);
      return Array.from(new Uint8Array(await response.arrayBuffer()));
    });
    const probed = await probeAudio(Uint8Array.from(wav), 'wav');
    assert.equal(probed.sampleRate, 24000);
    assert.ok(Math.abs(probed.seconds - seconds) < 0.1, `download ${probed.seconds} s, played ${seconds} s`);
  });

  it('creates a voice from an uploaded file', async () => {
    await page.setInputFiles('#upload', audioPath('low.wav'));
    await page.waitForFunction(() => !(document.getElementById('create') as HTMLButtonElement).disabled);
    await page.fill('#voice-name', 'upload');
    await page.selectOption('#voice-model', 'qwen3-tts-vc-realtime-2026-01-15');
    await page.click('#create');
    assert.match(await waitForStatus('create-status', 'ok'), /^Voice qwen-tts-vc-upload-voice-.* is ready/);
    await screenshot('created-from-upload');
    assert.equal(await page.locator('#voices tbody tr').count(), 2);
    assert.match(await page.textContent('#page-info') ?? '', /2 voices/);
  });

  it('shows the server\'s refusal in plain words', async () => {
    await page.setInputFiles('#upload', audioPath('silence.wav'));
    await page.waitForFunction(() => !(document.getElementById('create') as HTMLButtonElement).disabled);
    await page.fill('#voice-name', 'quiet');
    await page.click('#create');
    const message = await waitForStatus('create-status', 'error');
    assert.match(message, /^The recording could not be used: /);
    await screenshot('refused');
  });

  it('deletes a voice after confirmation', async () => {
    const row = page.locator('#voices tbody tr', { hasText: 'upload' });
    await row.getByRole('button', { name: 'Delete' }).click();
    assert.match(await waitForStatus('voices-status', 'ok'), /^Deleted qwen-tts-vc-upload-voice-/);
    await page.waitForFunction(() => document.querySelectorAll('#voices tbody tr').length === 1);
    await screenshot('deleted');
    const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
    assert.deepEqual(
      listed.body.output.voice_list.map((voice: { voice: string }) => voice.voice.split('-')[3]),
      ['mic'],
    );
  });

  it('offers spoken consent where the speaker encoder is installed, and sends the recording to be verified', async () => {
    assert.equal(await page.isVisible('#spoken-consent'), true);
    assert.equal(await page.textContent('#consent-statement'), 'I agree that Timbre may make a copy of my voice and use it to speak new words.');
    await page.setInputFiles('#upload', audioPath('human-en.wav'));
    await page.waitForFunction(() => !(document.getElementById('create') as HTMLButtonElement).disabled);
    // The fake microphone plays Allison reading prompts, not the sentence: her voice passes the
    // speaker check and her words fail the statement check, which the page reports.
    await page.click('#consent-record');
    await page.waitForTimeout(6000);
    await page.click('#consent-stop');
    await page.waitForFunction(() => !(document.getElementById('consent-preview') as HTMLAudioElement).hidden);
    await page.fill('#voice-name', 'spoken');
    await page.click('#create');
    const message = await waitForStatus('create-status', 'error');
    assert.match(message, /input\.consent\.statement failed the statement check: it is not what the consent audio says/);
    await screenshot('spoken-consent-checked');
  });
});
