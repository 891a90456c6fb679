// A create answers once the voice is durable; the engine's analysis of the reference follows
// in the background, and a synthesis that arrives first waits for it (bounded).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Audio } from '../src/audio/types.js';
import type { LanguageCode, VoicePrompt } from '../src/engines/engine.js';
import type { PreviewEngine, PreviewVoicePrompt } from '../src/engines/preview/preview-engine.js';
import { createBody, postJson, startTestServer, type TestServer } from './helpers.js';

const model = 'qwen3-tts-vc-2026-01-22';

/** A gate the real engine's analysis waits at, so the test decides when it finishes. */
class Gate {
  private opened!: () => void;
  readonly passed = new Promise<void>((resolve) => {
    this.opened = resolve;
  });
  open(): void {
    this.opened();
  }
}

type Prepare = (reference: Audio, transcript: string | null, language: LanguageCode | null) => Promise<VoicePrompt>;

/** Wraps the server's preview engine's prepareVoice; returns the calls made and a way to undo it. */
function interceptPreparation(server: TestServer, before: (call: number) => Promise<void>): { calls: () => number; restore: () => void } {
  const engine = server.running.engine as PreviewEngine;
  const original: Prepare = engine.prepareVoice.bind(engine);
  let calls = 0;
  engine.prepareVoice = (async (reference: Audio, transcript: string | null = null, language: LanguageCode | null = null) => {
    calls += 1;
    await before(calls);
    return original(reference, transcript, language);
  }) as PreviewEngine['prepareVoice'];
  return { calls: () => calls, restore: () => void (engine.prepareVoice = original as PreviewEngine['prepareVoice']) };
}

async function speak(server: TestServer, voice: string): Promise<Response> {
  return postJson(server, '/v1/audio/speech', { model, voice, input: 'Good morning.', response_format: 'wav' });
}

async function accountId(server: TestServer): Promise<string> {
  return (await server.running.keys.authenticate(server.key))!.id;
}

describe('a new voice is analysed after its create has answered', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('answers the create before the analysis; a synthesis arriving first waits for it and speaks with the whole prompt', async () => {
    const gate = new Gate();
    const intercepted = interceptPreparation(server, () => gate.passed);
    try {
      const created = await server.enroll(createBody({ target_model: model, preferred_name: 'early' }));
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const voice = created.body.output.voice as string;
      const row = await server.running.repository.findVoice(await accountId(server), voice);
      assert.equal(row?.voicePrompt, null, 'the voice is stored before its analysis has finished');
      assert.equal(intercepted.calls(), 1);

      let answered = false;
      const speaking = speak(server, voice).then((response) => {
        answered = true;
        return response;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(answered, false, 'the synthesis waits for the analysis under way');
      gate.open();
      const response = await speaking;
      assert.equal(response.status, 200, await response.clone().text());
      assert.ok((await response.arrayBuffer()).byteLength > 10_000);
      assert.equal(intercepted.calls(), 1, 'the waiting synthesis used the preparation under way, not a second one');
      const stored = JSON.parse((await server.preparedVoice(await accountId(server), voice))!.voicePrompt!) as PreviewVoicePrompt;
      assert.equal(stored.engine, 'preview');
      assert.equal(stored.version, (server.running.engine as PreviewEngine).promptVersion);
      assert.ok(stored.correction, 'the stored prompt is whole: it holds the spectral correction');
      assert.ok(stored.correction.classes, 'with its sound classes');
      assert.ok(stored.paceRatio, 'and the pace ratio');
    } finally {
      intercepted.restore();
    }
  });

  it('prepares again from the stored reference when the analysis after the create failed', async () => {
    const intercepted = interceptPreparation(server, async (call) => {
      if (call === 1) throw new Error('the synthesizer thread stopped unexpectedly');
    });
    try {
      const created = await server.enroll(createBody({ target_model: model, preferred_name: 'failed' }));
      assert.equal(created.status, 200, 'a failed analysis does not fail the acknowledged create');
      const voice = created.body.output.voice as string;
      const row = await server.preparedVoice(await accountId(server), voice);
      assert.equal(row?.voicePrompt, null);
      const response = await speak(server, voice);
      assert.equal(response.status, 200, await response.clone().text());
      await response.arrayBuffer();
      assert.equal(intercepted.calls(), 2);
      const stored = JSON.parse((await server.preparedVoice(await accountId(server), voice))!.voicePrompt!) as PreviewVoicePrompt;
      assert.equal(stored.version, (server.running.engine as PreviewEngine).promptVersion);
    } finally {
      intercepted.restore();
    }
  });

  it('prepares a voice without a current prompt once, however many syntheses ask at the same time', async () => {
    const created = await server.enroll(createBody({ target_model: model, preferred_name: 'shared' }));
    const voice = created.body.output.voice as string;
    const prompt = JSON.parse((await server.preparedVoice(await accountId(server), voice))!.voicePrompt!) as Record<string, unknown>;
    // As a voice made by an older engine version is stored: no version.
    const { version: _, ...older } = prompt;
    await server.running.repository.updateVoicePrompt(voice, JSON.stringify(older));
    const intercepted = interceptPreparation(server, async () => undefined);
    try {
      const responses = await Promise.all([speak(server, voice), speak(server, voice), speak(server, voice)]);
      for (const response of responses) {
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      assert.equal(intercepted.calls(), 1);
    } finally {
      intercepted.restore();
    }
  });
});

describe('a synthesis waits for the analysis only so long', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ TIMBRE_PROMPT_WAIT_SECONDS: '0.3' });
  });
  after(() => server.stop());

  it('is refused with Throttling and Retry-After while the analysis runs on; the server keeps serving; once it is done the voice speaks', async () => {
    const gate = new Gate();
    const intercepted = interceptPreparation(server, () => gate.passed);
    try {
      const created = await server.enroll(createBody({ target_model: model, preferred_name: 'slow' }));
      assert.equal(created.status, 200);
      const voice = created.body.output.voice as string;
      const refused = await speak(server, voice);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      const body = (await refused.json()) as { code: string; message: string };
      assert.equal(body.code, 'Throttling');
      assert.match(body.message, new RegExp(`voice "${voice}" is still being prepared from its reference \\(waited 0\\.3 s\\); retry in a moment`));
      const listed = await server.enroll({ model: 'qwen-voice-enrollment', input: { action: 'list' } });
      assert.equal(listed.status, 200);
      assert.ok((listed.body.output.voice_list as { voice: string }[]).some((each) => each.voice === voice), 'the voice is listed while it is prepared');
      gate.open();
      await server.running.prompts.settled(voice);
      const spoken = await speak(server, voice);
      assert.equal(spoken.status, 200);
      await spoken.arrayBuffer();
      assert.equal(intercepted.calls(), 1, 'the refused request started no second preparation');
    } finally {
      gate.open();
      intercepted.restore();
    }
  });
});
