/**
 * Rate limits of the domain, on rate-limiter-flexible (in process memory for a single instance; a Redis
 * limiter with the same interface comes with the Redis channel layer).
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfabError } from '../errors.js';

/** Sign-in attempts per client address per minute. */
export const SIGNIN_PER_IP_PER_MINUTE = 20;
/** Failed sign-ins of one account before each further attempt waits, doubling from 1 s up to 15 min. */
export const SIGNIN_FREE_FAILURES = 5;
export const SIGNIN_MAX_DELAY_S = 15 * 60;
/** Sign-ups per client address per hour. */
export const SIGNUPS_PER_IP_PER_HOUR = 10;

function refusal(err: unknown, what: string): never {
  if (err instanceof RateLimiterRes) {
    const retryAfterMs = Math.max(1, Math.ceil(err.msBeforeNext));
    throw new ConfabError('rate_limited', `${what}; try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
      retryAfterMs,
    });
  }
  throw err;
}

export class RateLimits {
  private readonly signInByIp = new RateLimiterMemory({ points: SIGNIN_PER_IP_PER_MINUTE, duration: 60 });
  private readonly failuresByAccount = new RateLimiterMemory({ points: 10_000, duration: 24 * 3600 });
  private readonly signUpByIp = new RateLimiterMemory({ points: SIGNUPS_PER_IP_PER_HOUR, duration: 3600 });
  private readonly messages;

  constructor(messageLimit: number, messageWindowMs: number) {
    this.messages = new RateLimiterMemory({ points: messageLimit, duration: messageWindowMs / 1000 });
  }

  /** Before checking a password: refuses when the address or the account is cooling down. */
  async beforeSignIn(ip: string, accountKey: string): Promise<void> {
    await this.signInByIp.consume(ip).catch((err: unknown) => refusal(err, 'Too many sign-in attempts'));
    const failures = await this.failuresByAccount.get(accountKey);
    const n = failures?.consumedPoints ?? 0;
    if (n >= SIGNIN_FREE_FAILURES) {
      const blocked = await this.failuresByAccount.get(`block:${accountKey}`);
      if (blocked && blocked.msBeforeNext > 0 && blocked.consumedPoints > 0) {
        refusal(blocked, 'Too many failed sign-ins for this account');
      }
    }
  }

  /** After a wrong password (or unknown user): the next attempt of that account waits twice as long. */
  async signInFailed(accountKey: string): Promise<void> {
    const res = await this.failuresByAccount.penalty(accountKey, 1);
    const n = res.consumedPoints;
    if (n >= SIGNIN_FREE_FAILURES) {
      const delayS = Math.min(2 ** (n - SIGNIN_FREE_FAILURES), SIGNIN_MAX_DELAY_S);
      await this.failuresByAccount.block(`block:${accountKey}`, delayS);
    }
  }

  async signInSucceeded(accountKey: string): Promise<void> {
    await Promise.all([this.failuresByAccount.delete(accountKey), this.failuresByAccount.delete(`block:${accountKey}`)]);
  }

  async beforeSignUp(ip: string): Promise<void> {
    await this.signUpByIp.consume(ip).catch((err: unknown) => refusal(err, 'Too many sign-ups from this address'));
  }

  /** One message of this user; refused with `retryAfterMs` past the limit (nothing is stored). */
  async message(userKey: string): Promise<void> {
    await this.messages.consume(userKey).catch((err: unknown) => refusal(err, 'You are sending too fast'));
  }
}
