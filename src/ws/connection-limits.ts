/**
 * Caps on WebSocket connections, checked at the handshake before anything is upgraded (checklist #13): open
 * connections per client address (checked before authentication, so a flood from one address costs no
 * database work), handshakes per address per minute (a reconnect storm or a handshake flood), and open
 * connections per user. Counts are per instance: behind a balancer over N instances a user may hold up to N
 * times the cap, which bounds memory per instance, the point of the cap.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface ConnectionLimitsConfig {
  maxConnectionsPerUser: number;
  maxConnectionsPerAddress: number;
  handshakesPerAddressPerMinute: number;
}

/** Why a handshake was refused (answered 429 Too Many Requests). */
export type Refusal = 'address_connections' | 'address_handshakes' | 'user_connections';

export class ConnectionLimits {
  private readonly byAddress = new Map<string, number>();
  private readonly byUser = new Map<number, number>();
  private readonly handshakes: RateLimiterMemory;

  constructor(private readonly config: ConnectionLimitsConfig) {
    this.handshakes = new RateLimiterMemory({ points: config.handshakesPerAddressPerMinute, duration: 60 });
  }

  /** Before authentication: the address's handshake rate and open connections. */
  async beforeAuth(address: string): Promise<Refusal | null> {
    if ((this.byAddress.get(address) ?? 0) >= this.config.maxConnectionsPerAddress) return 'address_connections';
    try {
      await this.handshakes.consume(address);
    } catch (err) {
      if (err instanceof RateLimiterRes) return 'address_handshakes';
      throw err;
    }
    return null;
  }

  /** After authentication, before upgrading: whether the user and the address are under their caps. */
  check(address: string, userId: number | null): Refusal | null {
    if ((this.byAddress.get(address) ?? 0) >= this.config.maxConnectionsPerAddress) return 'address_connections';
    if (userId !== null && (this.byUser.get(userId) ?? 0) >= this.config.maxConnectionsPerUser) return 'user_connections';
    return null;
  }

  /**
   * Once upgraded: counts the connection in, checking again (other handshakes may have completed since
   * `check`). Returns the refusal (the caller closes with 1008), or null once counted; `release` with the same
   * address and user counts it out on close (exactly once per admitted connection).
   */
  admit(address: string, userId: number | null): Refusal | null {
    const refusal = this.check(address, userId);
    if (refusal) return refusal;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    if (userId !== null) this.byUser.set(userId, (this.byUser.get(userId) ?? 0) + 1);
    return null;
  }

  /** Counts out a connection `admit` counted in. */
  release(address: string, userId: number | null): void {
    decrement(this.byAddress, address);
    if (userId !== null) decrement(this.byUser, userId);
  }
}

function decrement<K>(map: Map<K, number>, key: K): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
