/** Picks the ChannelLayer implementation: Redis when REDIS_URL is set, else in process memory. */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ChannelLayer } from './layer.js';
import { MemoryLayer } from './memory-layer.js';
import { RedisLayer } from './redis-layer.js';

export function openLayer(config: Config, log: Logger): ChannelLayer {
  if (config.redisUrl !== null) return new RedisLayer(config.redisUrl, log);
  return new MemoryLayer((err) => log.error({ err }, 'channel layer handler failed'));
}
