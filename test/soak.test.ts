import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { soak } from '../bench/soak.js';

// The short soak that fits in CI; `npm run test:reliability` runs the 10-minute one.
describe('soak: steady load on a server in its own process', () => {
  it('answers 90 s of 200 requests/s of lists, creates and deletes without errors, RSS flat', async (t) => {
    const result = await soak({ seconds: 90, rate: 200, createShare: 0.005, intervalSeconds: 10, log: (line) => t.diagnostic(line) });
    t.diagnostic(`achieved ${result.achievedRate.toFixed(0)} requests/s; worst p99 ${result.p99Ms.toFixed(1)} ms; RSS ${result.startRssMb.toFixed(0)} -> ${result.endRssMb.toFixed(0)} MB`);
    assert.equal(result.errors, 0);
    assert.ok(result.achievedRate > 180, `${result.achievedRate} requests/s`);
    assert.ok(result.endRssMb <= result.startRssMb * 1.2 + 30, `RSS ${result.startRssMb} -> ${result.endRssMb} MB`);
  });
});
