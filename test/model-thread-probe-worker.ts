// A model thread for test/model-thread.test.ts: no model, only a record of when jobs arrive.
// Cell 0 of the shared cells counts arrivals; each job writes its arrival number into its own
// cell and, when asked to hold, waits until cell 1 is set. A job may instead stop the thread:
// by exiting, or by an error thrown outside any job's promise (as a native module's callback can).
import { isMainThread } from 'node:worker_threads';
import { serveModelThread } from '../src/audio/model-thread.js';

export interface ProbeRequest {
  cells: SharedArrayBuffer;
  /** The cell this job marks (2 and up). */
  cell: number;
  hold: boolean;
  crash?: 'exit' | 'throw';
}

export const goCell = 1;

// `node --test dist/test/` also runs this file as a test of its own (it runs everything under a
// test folder); there it is on the main thread and has nothing to serve.
if (!isMainThread) serveModelThread<ProbeRequest, number>(async () => async ({ cells, cell, hold, crash }) => {
  if (crash === 'exit') process.exit(3);
  if (crash === 'throw') {
    setTimeout(() => {
      throw new Error('the probe crashed');
    });
    return new Promise<never>(() => undefined);
  }
  const view = new Int32Array(cells);
  const arrival = Atomics.add(view, 0, 1) + 1;
  Atomics.store(view, cell, arrival);
  Atomics.notify(view, cell);
  if (hold) Atomics.wait(view, goCell, 0);
  return { result: arrival };
});
