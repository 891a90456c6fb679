import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelThread } from '../src/audio/model-thread.js';
import { JobQueue } from '../src/engines/queue.js';
import { goCell, type ProbeRequest } from './model-thread-probe-worker.js';

// A model thread is handed a job within the call that asks for it when the thread is free, so
// the caller's own work that follows runs beside the model (a create cutting its reference
// while the one-voice check runs); jobs that must wait keep their order.

function probeThread(): ModelThread<ProbeRequest, number> {
  return new ModelThread<ProbeRequest, number>(new URL('./model-thread-probe-worker.js', import.meta.url), {}, 8, 'the probe');
}

describe('a model thread', () => {
  it('receives a job before run() returns to its caller when the thread is free', async () => {
    const thread = probeThread();
    const cells = new SharedArrayBuffer(8 * 4);
    const view = new Int32Array(cells);
    try {
      assert.equal(await thread.run({ cells, cell: 2, hold: false }), 1, 'the thread is loaded');
      const answered = thread.run({ cells, cell: 3, hold: false });
      // This thread now waits without letting its event loop turn: only a job posted within
      // run() itself can reach the model thread meanwhile.
      const waited = Atomics.wait(view, 3, 0, 5000);
      assert.notEqual(waited, 'timed-out', 'the job reached the thread during the caller\'s own work');
      assert.equal(Atomics.load(view, 3), 2);
      assert.equal(await answered, 2);
    } finally {
      await thread.close();
    }
  });

  it('runs jobs that had to wait in the order they were asked for', async () => {
    const thread = probeThread();
    const cells = new SharedArrayBuffer(8 * 4);
    const view = new Int32Array(cells);
    const go = () => {
      Atomics.store(view, goCell, 1);
      Atomics.notify(view, goCell);
    };
    try {
      assert.equal(await thread.run({ cells, cell: 2, hold: false }), 1, 'the thread is loaded');
      const held = thread.run({ cells, cell: 3, hold: true });
      assert.notEqual(Atomics.wait(view, 3, 0, 5000), 'timed-out', 'the held job is on the thread');
      const waiting = [thread.run({ cells, cell: 4, hold: false }), thread.run({ cells, cell: 5, hold: false })];
      go();
      // Asked for while the held job's answer is on its way: it must not pass the two waiting.
      const last = thread.run({ cells, cell: 6, hold: false });
      assert.deepEqual(await Promise.all([held, ...waiting, last]), [2, 3, 4, 5]);
      assert.deepEqual([...view.subarray(3, 7)], [2, 3, 4, 5]);
    } finally {
      go();
      await thread.close();
    }
  });

  for (const crash of ['exit', 'throw'] as const) {
    it(`fails the job of a thread that stops (${crash}), and runs the next ones on a new thread`, { timeout: 30_000 }, async () => {
      const thread = probeThread();
      const cells = new SharedArrayBuffer(8 * 4);
      try {
        assert.equal(await thread.run({ cells, cell: 2, hold: false }), 1, 'the thread is loaded');
        // Asked for together: two wait behind the job that stops the thread.
        const crashed = thread.run({ cells, cell: 3, hold: false, crash });
        const waiting = [thread.run({ cells, cell: 4, hold: false }), thread.run({ cells, cell: 5, hold: false })];
        await assert.rejects(crashed, crash === 'throw' ? /the probe thread stopped unexpectedly: the probe crashed/ : /the probe thread stopped unexpectedly/);
        // The arrival count lives in the shared cells, so the new thread goes on counting.
        assert.deepEqual(await Promise.all(waiting), [2, 3]);
        assert.equal(await thread.run({ cells, cell: 6, hold: false }), 4, 'a job asked for after the crash runs as well');
      } finally {
        await thread.close();
      }
    });
  }
});

describe('the job queue', () => {
  it('gives a free slot at once, and none while jobs wait for one', async () => {
    const queue = new JobQueue(1, 4);
    const release = queue.tryAcquire();
    assert.ok(release, 'the free slot is taken');
    assert.equal(queue.tryAcquire(), null, 'no second slot');
    const waiter = queue.acquire();
    release();
    // The slot went to the waiter, not to whoever asks next.
    assert.equal(queue.tryAcquire(), null);
    const waiterRelease = await waiter;
    assert.deepEqual(queue.depth(), { running: 1, waiting: 0 });
    waiterRelease();
    assert.deepEqual(queue.depth(), { running: 0, waiting: 0 });
    assert.ok(queue.tryAcquire());
  });
});
