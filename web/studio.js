// The web studio: plain browser JavaScript, no build step. It talks to the same public API
// as any client (the key stays in this browser's localStorage).

const $ = (id) => document.getElementById(id);
const keyStorage = 'timbre.apiKey';
const pageSize = 10;
const maxRecordSeconds = 20;
const minRecordSeconds = 10;
const outputRate = 24000;

/** Plain words for every error code the API can answer with. */
const plainErrors = {
  InvalidApiKey: 'The API key was not accepted. Paste the key that `npm start` printed (also in data/default-api-key).',
  'Audio.PreprocessError': 'The recording could not be used',
  InvalidParameter: 'The request was not accepted',
  'BadRequest.TooLarge': 'The file is too large (the limit is 10 MB).',
  'BadRequest.EmptyInput': 'Nothing was sent.',
  'BadRequest.EmptyModel': 'No model was named.',
  InvalidURL: 'The audio URL could not be used',
  AccessDenied: 'Not allowed',
  Throttling: 'The server is busy or this key has made too many requests; wait a moment and try again.',
  InternalError: 'The server failed; its log has the request id below.',
  NotFound: 'The server does not offer this.',
};

class ApiError extends Error {
  constructor(code, message, requestId) {
    super(message);
    this.code = code;
    this.requestId = requestId;
  }
}

function explain(error) {
  if (!(error instanceof ApiError)) return `Could not reach the server: ${error.message}`;
  const plain = plainErrors[error.code] ?? error.code;
  const detail = plain.endsWith('.') ? ` (${error.message})` : `: ${error.message}`;
  return `${plain}${detail}${error.requestId ? ` [request ${error.requestId}]` : ''}`;
}

function apiKey() {
  return localStorage.getItem(keyStorage) ?? '';
}

async function api(path, body, extraHeaders = {}, signal = undefined) {
  const response = await fetch(path, {
    signal,
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${apiKey()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extraHeaders },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let parsed = {};
    try {
      parsed = await response.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(parsed.code ?? parsed.error?.code ?? `HTTP ${response.status}`, parsed.message ?? parsed.error?.message ?? response.statusText, parsed.request_id);
  }
  return response;
}

function enrollment(input) {
  return api('/api/v1/services/audio/tts/customization', { model: 'qwen-voice-enrollment', input }).then((response) => response.json());
}

function setStatus(id, text, kind = 'info') {
  const element = $(id);
  element.textContent = text;
  element.dataset.kind = kind;
}

// ---------- 1. key ----------
$('api-key').value = apiKey();
$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  localStorage.setItem(keyStorage, $('api-key').value.trim());
  await refreshVoices(0);
});

// ---------- 2. sample: record or upload ----------
let sampleDataUrl = null;

function encodeWav(samples, sampleRate) {
  const bytes = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, value) => [...value].forEach((char, i) => bytes.setUint8(offset + i, char.charCodeAt(0)));
  text(0, 'RIFF');
  bytes.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  bytes.setUint32(16, 16, true);
  bytes.setUint16(20, 1, true);
  bytes.setUint16(22, 1, true);
  bytes.setUint32(24, sampleRate, true);
  bytes.setUint32(28, sampleRate * 2, true);
  bytes.setUint16(32, 2, true);
  bytes.setUint16(34, 16, true);
  text(36, 'data');
  bytes.setUint32(40, samples.length * 2, true);
  samples.forEach((sample, i) => bytes.setInt16(44 + i * 2, Math.max(-1, Math.min(1, sample)) * 32767, true));
  return new Blob([bytes.buffer], { type: 'audio/wav' });
}

function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** MediaRecorder gives webm/opus; the API takes wav, mp3 or m4a: decode and write a mono 24 kHz WAV. */
async function recordingToWav(blob) {
  const decoded = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * outputRate), outputRate);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const rendered = await offline.startRendering();
  return encodeWav(rendered.getChannelData(0), outputRate);
}

async function useSample(blob, label) {
  sampleDataUrl = await blobToDataUrl(blob);
  $('sample-preview').src = URL.createObjectURL(blob);
  $('sample-preview').hidden = false;
  $('create').disabled = false;
  setStatus('create-status', `${label} ready. Name the voice, tick the consent box and create it.`);
}

/** The microphone, unprocessed (the voice as it is); null, with the reason shown, when refused. */
async function microphone() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false } });
  } catch (error) {
    setStatus('create-status', `The microphone is not available: ${error.message}. Allow it in the browser, or upload a file.`, 'error');
    return null;
  }
}

let recorder = null;
$('record').addEventListener('click', async () => {
  const stream = await microphone();
  if (!stream) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const levels = new Float32Array(analyser.fftSize);
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const started = performance.now();
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(levels);
    let sum = 0;
    for (const value of levels) sum += value * value;
    $('level').value = Math.min(1, Math.sqrt(sum / levels.length) * 4);
    const seconds = (performance.now() - started) / 1000;
    $('elapsed').textContent = `${seconds.toFixed(1)} s`;
    $('guide').textContent = seconds < minRecordSeconds ? `Keep reading… ${Math.ceil(minRecordSeconds - seconds)} s to go.` : 'Good length. Stop whenever you finish a sentence.';
    if (seconds >= maxRecordSeconds) recorder.stop();
  }, 100);
  recorder.onstop = async () => {
    clearInterval(timer);
    stream.getTracks().forEach((track) => track.stop());
    await context.close();
    $('record').disabled = false;
    $('stop').disabled = true;
    $('level').value = 0;
    $('guide').textContent = '';
    const seconds = (performance.now() - started) / 1000;
    try {
      await useSample(await recordingToWav(new Blob(chunks, { type: recorder.mimeType })), `Recording of ${seconds.toFixed(1)} s`);
    } catch (error) {
      setStatus('create-status', `The recording could not be read: ${error.message}`, 'error');
    }
  };
  recorder.start(250);
  $('record').disabled = true;
  $('stop').disabled = false;
  setStatus('create-status', 'Recording…');
});
$('stop').addEventListener('click', () => recorder?.state === 'recording' && recorder.stop());

$('upload').addEventListener('change', async () => {
  const file = $('upload').files[0];
  if (!file) return;
  if (file.size > 10 * 1024 * 1024) {
    setStatus('create-status', 'That file is larger than 10 MB; use 10-20 s of speech.', 'error');
    return;
  }
  await useSample(file, `File ${file.name}`);
});

// ---------- spoken consent (where the server can verify it) ----------
let consentPolicy = { required: 'none', spoken_verification: false, suggested_statement: '' };
let consentDataUrl = null;

async function loadConsentPolicy() {
  consentPolicy = (await (await api('/api/v1/voices/consent-policy')).json()).output;
  $('spoken-consent').hidden = !consentPolicy.spoken_verification;
  $('consent-statement').textContent = consentPolicy.suggested_statement;
  // Where spoken consent is mandatory, the checkbox alone is not enough.
  $('consent-checkbox').hidden = consentPolicy.required === 'spoken';
  $('consent').required = consentPolicy.required !== 'spoken';
}

let consentRecorder = null;
$('consent-record').addEventListener('click', async () => {
  const stream = await microphone();
  if (!stream) return;
  const chunks = [];
  consentRecorder = new MediaRecorder(stream);
  consentRecorder.ondataavailable = (event) => chunks.push(event.data);
  const limit = setTimeout(() => consentRecorder.stop(), maxRecordSeconds * 1000);
  consentRecorder.onstop = async () => {
    clearTimeout(limit);
    stream.getTracks().forEach((track) => track.stop());
    $('consent-record').disabled = false;
    $('consent-stop').disabled = true;
    try {
      const wav = await recordingToWav(new Blob(chunks, { type: consentRecorder.mimeType }));
      consentDataUrl = await blobToDataUrl(wav);
      $('consent-preview').src = URL.createObjectURL(wav);
      $('consent-preview').hidden = false;
      setStatus('create-status', 'Spoken consent recorded; it is checked when you create the voice.');
    } catch (error) {
      setStatus('create-status', `The consent recording could not be read: ${error.message}`, 'error');
    }
  };
  consentRecorder.start(250);
  $('consent-record').disabled = true;
  $('consent-stop').disabled = false;
  setStatus('create-status', 'Recording consent… read the sentence, then press Stop.');
});
$('consent-stop').addEventListener('click', () => consentRecorder?.state === 'recording' && consentRecorder.stop());

function consentToSend() {
  if (consentDataUrl) return { method: 'spoken', statement: consentPolicy.suggested_statement, audio: consentDataUrl };
  return { method: 'checkbox', statement: 'The person speaking in this recording agreed to have their voice cloned.' };
}

$('create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!sampleDataUrl) return;
  const input = {
    action: 'create',
    target_model: $('voice-model').value,
    preferred_name: $('voice-name').value.trim(),
    audio: { data: sampleDataUrl },
    consent: consentToSend(),
  };
  if (consentPolicy.required === 'spoken' && !consentDataUrl) {
    setStatus('create-status', 'This server needs spoken consent: record the sentence above first.', 'error');
    return;
  }
  if ($('voice-text').value.trim()) input.text = $('voice-text').value.trim();
  if ($('voice-language').value) input.language = $('voice-language').value;
  $('create').disabled = true;
  setStatus('create-status', 'Creating the voice…');
  try {
    const created = await enrollment(input);
    const seconds = created.output.speech_seconds;
    const verdict = created.output.fallback_mode
      ? `Made, but it could be better: ${created.output.fallback_reason}.`
      : 'The recording was good.';
    setStatus('create-status', `Voice ${created.output.voice} is ready, made from ${seconds} s of speech. ${verdict}`, 'ok');
    await refreshVoices(0);
    $('speak-voice').value = created.output.voice;
  } catch (error) {
    setStatus('create-status', explain(error), 'error');
  } finally {
    $('create').disabled = false;
  }
});

// ---------- 3. voices ----------
let currentPage = 0;

async function refreshVoices(pageIndex) {
  if (!apiKey()) {
    setStatus('key-status', 'Enter your API key first.', 'error');
    return;
  }
  try {
    const [listed] = await Promise.all([enrollment({ action: 'list', page_index: pageIndex, page_size: pageSize }), pageIndex === 0 ? loadConsentPolicy() : null]);
    setStatus('key-status', 'Key accepted.', 'ok');
    currentPage = pageIndex;
    const { voice_list: voices, total_count: total } = listed.output;
    const body = $('voices').querySelector('tbody');
    body.replaceChildren(
      ...voices.map((voice) => {
        const row = document.createElement('tr');
        row.dataset.voice = voice.voice;
        const verified = voice.consent?.verification ? `, speaker verified (${voice.consent.verification.speaker_similarity})` : '';
        const cells = [voice.voice, voice.target_model, voice.gmt_create, voice.consent ? `${voice.consent.method}${verified}, ${voice.consent.gmt_recorded}` : '—'];
        for (const text of cells) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        const actions = document.createElement('td');
        const play = document.createElement('button');
        play.type = 'button';
        play.textContent = 'Play reference';
        play.addEventListener('click', () => playReference(voice.voice));
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'danger';
        remove.textContent = 'Delete';
        remove.addEventListener('click', () => deleteVoice(voice.voice));
        actions.append(play, remove);
        row.append(actions);
        return row;
      }),
    );
    const pages = Math.max(1, Math.ceil(total / pageSize));
    $('page-info').textContent = total === 0 ? 'No voices yet.' : `Page ${pageIndex + 1} of ${pages} (${total} voices)`;
    $('prev-page').disabled = pageIndex === 0;
    $('next-page').disabled = pageIndex + 1 >= pages;
    const select = $('speak-voice');
    const chosen = select.value;
    select.replaceChildren(
      ...voices.map((voice) => {
        const option = document.createElement('option');
        option.value = voice.voice;
        option.dataset.model = voice.target_model;
        option.textContent = voice.voice;
        return option;
      }),
    );
    if (chosen && voices.some((voice) => voice.voice === chosen)) select.value = chosen;
  } catch (error) {
    setStatus(error.code === 'InvalidApiKey' ? 'key-status' : 'voices-status', explain(error), 'error');
  }
}

$('prev-page').addEventListener('click', () => refreshVoices(currentPage - 1));
$('next-page').addEventListener('click', () => refreshVoices(currentPage + 1));

async function playReference(voice) {
  try {
    const response = await api(`/api/v1/voices/${encodeURIComponent(voice)}/reference`);
    const player = $('reference-player');
    player.src = URL.createObjectURL(await response.blob());
    player.hidden = false;
    await player.play();
    setStatus('voices-status', `Playing the reference of ${voice}.`);
  } catch (error) {
    setStatus('voices-status', explain(error), 'error');
  }
}

async function deleteVoice(voice) {
  if (!confirm(`Delete ${voice}? This cannot be undone.`)) return;
  try {
    await enrollment({ action: 'delete', voice });
    setStatus('voices-status', `Deleted ${voice}.`, 'ok');
    await refreshVoices(currentPage);
  } catch (error) {
    setStatus('voices-status', explain(error), 'error');
  }
}

// ---------- 4. speak, playing as it streams ----------
let speaking = null;

function pcm16ToFloat(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < samples.length; i += 1) samples[i] = view.getInt16(i * 2, true) / 32768;
  return samples;
}

$('speak-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const option = $('speak-voice').selectedOptions[0];
  if (!option) {
    setStatus('speak-status', 'Create a voice first.', 'error');
    return;
  }
  speaking?.abort();
  const controller = new AbortController();
  speaking = controller;
  const context = new AudioContext({ sampleRate: outputRate });
  controller.signal.addEventListener('abort', () => context.close());
  let playAt = context.currentTime + 0.05;
  let receivedSeconds = 0;
  const parts = [];
  $('download').hidden = true;
  $('speak').disabled = true;
  $('stop-speaking').disabled = false;
  setStatus('speak-status', 'Speaking…');
  try {
    const response = await api(
      '/v1/audio/speech',
      { model: option.dataset.model, voice: option.value, input: $('speak-text').value, response_format: 'pcm', stream_format: 'sse' },
      {},
      controller.signal,
    );
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || controller.signal.aborted) break;
      pending += decoder.decode(value, { stream: true });
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (!line.startsWith('data: ')) continue;
        const message = JSON.parse(line.slice(6));
        if (message.type === 'error') throw new ApiError(message.error.code, message.error.message);
        if (message.type !== 'speech.audio.delta') continue;
        const bytes = Uint8Array.from(atob(message.audio), (char) => char.charCodeAt(0));
        parts.push(bytes);
        const samples = pcm16ToFloat(bytes);
        const buffer = context.createBuffer(1, samples.length, outputRate);
        buffer.copyToChannel(samples, 0);
        const source = context.createBufferSource();
        source.buffer = buffer;
        source.connect(context.destination);
        playAt = Math.max(playAt, context.currentTime);
        source.start(playAt);
        playAt += buffer.duration;
        receivedSeconds += buffer.duration;
        document.body.dataset.playedSeconds = receivedSeconds.toFixed(2);
      }
    }
    if (controller.signal.aborted) {
      setStatus('speak-status', 'Stopped.');
      return;
    }
    const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
    const wav = encodeWav(pcm16ToFloat(all), outputRate);
    $('download').href = URL.createObjectURL(wav);
    $('download').hidden = false;
    setStatus('speak-status', `Spoke ${receivedSeconds.toFixed(1)} s of audio in ${option.value}.`, 'ok');
  } catch (error) {
    if (controller.signal.aborted) setStatus('speak-status', 'Stopped.');
    else setStatus('speak-status', explain(error), 'error');
  } finally {
    $('speak').disabled = false;
    $('stop-speaking').disabled = true;
  }
});

$('stop-speaking').addEventListener('click', () => speaking?.abort());
document.addEventListener('timbre-stop', () => speaking?.abort());

if (apiKey()) refreshVoices(0);
