/** Picks the ChannelLayer implementation (in-memory until the Redis layer exists). */
import type { Logger } from 'pino';
import type { ChannelLayer } from './layer.js';
import { MemoryLayer } from './memory-layer.js';

export function openLayer(log: Logger): ChannelLayer {
  return new MemoryLayer((err) => log.error({ err }, 'channel layer handler failed'));
}
