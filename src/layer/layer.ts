/**
 * The ChannelLayer: group publish / subscribe between server instances, as Django Channels' channel layer.
 * It is only the fast path for live events; the store is the truth, and a missed event is healed from it.
 * Payloads are strings so that every implementation (memory, Redis) carries exactly the same thing.
 */

/** Receives each payload published to a group this handler is subscribed to. */
export type LayerHandler = (payload: string) => void;

export interface ChannelLayer {
  /**
   * Adds a handler to a group. The same handler twice counts once. Resolves once the subscription is live
   * (or, if the backend is unreachable or slow to confirm, once it is registered to be made live when it can:
   * what was published meanwhile is then announced as a loss, through `onRecovered`).
   */
  subscribe(group: string, handler: LayerHandler): Promise<void>;
  unsubscribe(group: string, handler: LayerHandler): Promise<void>;
  /** Sends a payload to every handler of the group on every instance. Rejects when it could not be sent. */
  publish(group: string, payload: string): Promise<void>;
  /** False while live delivery may be missing events (backend away, subscription gone deaf). */
  healthy(): boolean;
  /**
   * Registers a listener called when live delivery comes back after having been lost (an outage, a subscription
   * confirmed late): whatever was published meanwhile never arrived, so receivers re-read it from the store.
   */
  onRecovered(listener: () => void): void;
  close(): Promise<void>;
}
