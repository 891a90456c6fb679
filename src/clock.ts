/** Time as epoch milliseconds; injected so retention and expiry can be tested. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
