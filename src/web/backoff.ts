/** Reconnection delays: exponential backoff with "full jitter" (AWS architecture blog). */

/** First retry window and the longest wait between attempts, in milliseconds. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 15_000;

/**
 * The delay before reconnection attempt number `attempt` (0 for the first retry): a uniformly random time in
 * [0, min(cap, base * 2^attempt)). Full jitter spreads the reconnects of many clients after a server restart,
 * so they do not all hit the new instance in the same instant.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
