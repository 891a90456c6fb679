// Generates the test references into test/.audio: synthetic voices from espeak-ng and real
// human speech from Debian's Asterisk prompts (CC-BY-SA-3.0), in wav, mp3 and m4a.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const ffmpeg = require('@ffmpeg-installer/ffmpeg').path;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test', '.audio');
const version = '4';
const stamp = join(out, 'VERSION');
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === version) process.exit(0);
mkdirSync(out, { recursive: true });

const passage =
  'The old lighthouse keeper climbed the winding stairs every evening at dusk. ' +
  'He polished the great lens until it shone, then lit the lamp and watched the ships pass. ' +
  'On stormy nights he stayed awake until morning, counting the waves that broke against the rocks below. ' +
  'Nobody in the village remembered a single night when the light had failed.';

const run = (command, args) => {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed: ${error.stderr}`);
  }
};
const ff = (...args) => run(ffmpeg, ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args]);
const speak = (file, voice, pitch, rate, text = passage) => run('espeak-ng', ['-v', voice, '-p', String(pitch), '-s', String(rate), '-w', file, text]);

// Synthetic voices: low, high, fast, slow (10-20 s each).
const voices = {
  low: ['en-us+m3', 20, 165],
  high: ['en-us+f4', 80, 170],
  fast: ['en-us+m1', 50, 230],
  slow: ['en-us+f2', 55, 125],
};
for (const [name, [voice, pitch, rate]] of Object.entries(voices)) {
  const raw = join(out, `${name}.raw.wav`);
  speak(raw, voice, pitch, rate);
  // Cut to at most 20 s and add a little leading and trailing silence, as a recording has.
  ff('-i', raw, '-af', 'adelay=400,apad=pad_len=13230', '-t', '20', '-ar', '24000', '-ac', '1', '-c:a', 'pcm_s16le', join(out, `${name}.wav`));
}
writeFileSync(join(out, 'passage.txt'), passage);
ff('-i', join(out, 'low.wav'), '-c:a', 'libmp3lame', '-b:a', '128k', join(out, 'low.mp3'));
ff('-i', join(out, 'low.wav'), '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', join(out, 'low.m4a'));
// The m4a as phones write it: index at the end, which a pipe cannot read.
ff('-i', join(out, 'low.wav'), '-c:a', 'aac', '-b:a', '96k', join(out, 'low-moov-last.m4a'));
// Exactly 20 s, for the enrollment benchmark.
ff('-stream_loop', '1', '-i', join(out, 'low.wav'), '-t', '20', '-ar', '24000', '-c:a', 'pcm_s16le', join(out, 'bench20.wav'));
ff('-i', join(out, 'bench20.wav'), '-c:a', 'libmp3lame', '-b:a', '128k', join(out, 'bench20.mp3'));

// Problem audio.
speak(join(out, 'short.raw.wav'), 'en-us', 50, 170, 'Hello there.');
ff('-i', join(out, 'short.raw.wav'), '-af', 'apad=pad_len=66150', '-ar', '24000', join(out, 'short.wav'));
speak(join(out, 'five.raw.wav'), 'en-us', 50, 170, 'This reference holds only a few seconds of speech, enough to use but short.');
ff('-i', join(out, 'five.raw.wav'), '-ar', '24000', join(out, 'five-seconds.wav'));
ff('-f', 'lavfi', '-i', 'anullsrc=r=24000:cl=mono', '-t', '15', '-c:a', 'pcm_s16le', join(out, 'silence.wav'));
ff('-f', 'lavfi', '-i', 'anoisesrc=r=24000:a=0.2:c=white', '-t', '12', '-c:a', 'pcm_s16le', join(out, 'noise.wav'));
ff('-stream_loop', '4', '-i', join(out, 'low.wav'), '-t', '75', '-c:a', 'pcm_s16le', join(out, 'long.wav'));
ff('-i', join(out, 'low.wav'), '-af', 'volume=40', '-c:a', 'pcm_s16le', join(out, 'clipped.wav'));
ff('-i', join(out, 'low.wav'), '-ar', '8000', '-c:a', 'pcm_s16le', join(out, 'narrowband.wav'));
ff('-i', join(out, 'low.wav'), '-ac', '2', '-ar', '48000', '-c:a', 'pcm_s16le', join(out, 'stereo48k.wav'));

// Real human speech: Allison's prompts joined into a 10-20 s reference, with the transcript.
const sounds = '/usr/share/asterisk/sounds/en_US_f_Allison';
const transcripts = new Map(
  gunzipSync(readFileSync('/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz'))
    .toString('utf8')
    .split('\n')
    .filter((line) => /^[\w-]+: /.test(line))
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2).trim()]),
);
const prompts = ['agent-alreadyon', 'auth-incorrect', 'cannot-complete-as-dialed', 'check-number-dial-again', 'all-circuits-busy-now'];
const inputs = prompts.flatMap((name) => ['-f', 'g722', '-i', join(sounds, `${name}.g722`)]);
const labels = prompts.map((_, index) => `[${index}:a]`).join('');
ff(...inputs, '-filter_complex', `${labels}concat=n=${prompts.length}:v=0:a=1`, '-ar', '16000', '-c:a', 'pcm_s16le', join(out, 'human-en.wav'));
writeFileSync(join(out, 'human-en.txt'), prompts.map((name) => transcripts.get(name)).join(' '));
// Allison again, other prompts: spoken consent from the reference's speaker, with its words.
const consentPrompts = ['conf-getconfno', 'conf-now-recording', 'conf-extended'];
const joinPrompts = (folder, names, file) => {
  const inputs = names.flatMap((name) => ['-f', 'g722', '-i', join(folder, `${name}.g722`)]);
  ff(...inputs, '-filter_complex', `${names.map((_, index) => `[${index}:a]`).join('')}concat=n=${names.length}:v=0:a=1`, '-ar', '16000', '-c:a', 'pcm_s16le', file);
};
joinPrompts(sounds, consentPrompts, join(out, 'human-en-consent.wav'));
writeFileSync(join(out, 'human-en-consent.txt'), consentPrompts.map((name) => transcripts.get(name)).join(' '));
// Debian's French-Canadian speaker (June), for a second real voice in the similarity figures.
joinPrompts('/usr/share/asterisk/sounds/fr_CA_f_June', ['agent-alreadyon', 'auth-incorrect', 'cannot-complete-as-dialed', 'check-number-dial-again', 'all-circuits-busy-now'], join(out, 'human-fr.wav'));
// A long menu read with long pauses (73 s): too long as a whole.
ff('-f', 'g722', '-i', join(sounds, 'demo-instruct.g722'), '-c:a', 'pcm_s16le', join(out, 'human-long.wav'));

writeFileSync(stamp, version);
console.log(`test audio ready in ${out}`);
