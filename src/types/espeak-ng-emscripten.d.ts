// @echogarden/espeak-ng-emscripten ships no types: the part of its worker class Timbre uses.
declare module '@echogarden/espeak-ng-emscripten' {
  export interface EspeakWorker {
    set_voice(identifier: string): void;
    set_rate(wordsPerMinute: number): void;
    set_pitch(pitch: number): void;
    set_range(range: number): void;
    set_volume(volume: number): void;
    get_samplerate(): number;
    /** The callback gets each chunk of 16-bit samples; returning 1 stops synthesis. */
    synthesize(text: string, callback: (samples: Int16Array | null, events: unknown[]) => number | void): void;
    list_voices(): { identifier: string; languages: { name: string }[] }[];
  }
  export interface EspeakModule {
    eSpeakNGWorker: new () => EspeakWorker;
  }
  const createModule: () => Promise<EspeakModule>;
  export default createModule;
}
