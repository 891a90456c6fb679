// @echogarden/espeak-ng-emscripten ships no types: the part of its worker class Timbre uses.
declare module '@echogarden/espeak-ng-emscripten' {
  export interface EspeakWorker {
    set_voice(identifier: string): void;
    set_rate(wordsPerMinute: number): void;
    set_pitch(pitch: number): void;
    set_range(range: number): void;
    set_volume(volume: number): void;
    get_samplerate(): number;
    /** The callback gets each chunk of 16-bit samples and the events it reached; returning 1 stops synthesis. */
    synthesize(text: string, callback: (samples: Int16Array | null, events: EspeakEvent[]) => number | void): void;
    list_voices(): { identifier: string; languages: { name: string }[] }[];
  }
  /** A point espeak reached: `text_position` counts characters from 1, `audio_position` milliseconds of audio. */
  export interface EspeakEvent {
    type: string;
    text_position: number;
    audio_position: number;
  }
  /** Emscripten's in-memory file system, holding espeak-ng's data folder. */
  export interface EmscriptenFs {
    readFile(path: string, options: { encoding: 'utf8' }): string;
    writeFile(path: string, data: string): void;
    analyzePath(path: string): { exists: boolean };
  }
  export interface EspeakModule {
    eSpeakNGWorker: new () => EspeakWorker;
    FS: EmscriptenFs;
  }
  const createModule: () => Promise<EspeakModule>;
  export default createModule;
}
