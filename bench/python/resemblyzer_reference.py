"""Resemblyzer's own embeddings, for bench/speaker-equivalence.ts to compare Timbre's against.

Reads a JSON list of audio paths on stdin; writes one JSON object per file on stdout:
the embedding of `preprocess_wav(path)` (Resemblyzer's full pipeline with webrtcvad); the
preprocessed waveform itself as a float32 file in the folder named by the first argument, so
Timbre can embed exactly the same samples and the VAD difference can be told apart from the
rest; the embedding of the volume-normalised audio with no silence trimmed; and every tenth
mel frame of its first second.
"""
import json
import sys
from pathlib import Path

import numpy as np
from resemblyzer import VoiceEncoder, preprocess_wav
from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
from resemblyzer.hparams import audio_norm_target_dBFS, sampling_rate
import librosa

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
encoder = VoiceEncoder(device="cpu", verbose=False)
for index, path in enumerate(json.load(sys.stdin)):
    wav = preprocess_wav(path)
    samples_path = out / f"{index}.f32"
    wav.astype(np.float32).tofile(samples_path)
    loaded, _ = librosa.load(path, sr=sampling_rate)
    untrimmed = normalize_volume(loaded, audio_norm_target_dBFS, increase_only=True)
    mel = wav_to_mel_spectrogram(untrimmed[:sampling_rate])
    print(json.dumps({
        "path": path,
        "embedding": encoder.embed_utterance(wav).tolist(),
        "preprocessed": str(samples_path),
        "embedding_untrimmed": encoder.embed_utterance(untrimmed).tolist(),
        "mel_every_tenth_frame": mel[::10].tolist(),
    }), flush=True)
