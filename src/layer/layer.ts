/**
 * The ChannelLayer: group publish / subscribe between server instances, as Django Channels' channel layer.
 * It is only the fast path for live events; the store is the truth, and a missed event is healed from it.
 * Payloads are strings so that every implementation (memory now, Redis later) carries exactly the same thing.
 */

/** Receives each payload published to a group this handler is subscribed to. */
export type LayerHandler = (payload: string) => void;

export interface ChannelLayer {
  /** Adds a handler to a group. The same handler twice counts once. */
  subscribe(group: string, handler: LayerHandler): Promise<void>;
  unsubscribe(group: string, handler: LayerHandler): Promise<void>;
  /** Sends a payload to every handler of the group on every instance. */
  publish(group: string, payload: string): Promise<void>;
  close(): Promise<void>;
}
