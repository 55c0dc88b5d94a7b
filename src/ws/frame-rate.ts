/**
 * A token bucket per connection, in front of every frame (checklist #12): `ratePerSecond` frames a second on
 * average, bursts of `burst`. Synchronous and allocation-free, since it runs on every frame; the async
 * rate-limiter-flexible limiters guard the expensive operations (sign-in, sending) per user instead.
 */
const monotonic = (): number => performance.now();

export class FrameRate {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = monotonic,
  ) {
    this.tokens = burst;
    this.last = this.now();
  }

  /** 0 when the frame may go on (a token was taken), else how many milliseconds until one is there. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerSecond) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}
