/** Picks the presence backend: Redis when REDIS_URL is set (several instances), else process memory. */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { MemoryPresence } from './memory-presence.js';
import type { PresenceBackend } from './presence-backend.js';
import { RedisPresence } from './redis-presence.js';

export function openPresence(config: Config, log: Logger): PresenceBackend {
  if (config.redisUrl !== null) return new RedisPresence(config.redisUrl, config.presenceTtlS, log);
  return new MemoryPresence();
}
