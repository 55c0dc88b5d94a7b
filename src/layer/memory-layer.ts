/**
 * The in-process ChannelLayer, the default for a single instance. Delivery is synchronous and in publish
 * order; a throwing handler is isolated so it cannot stop delivery to the others.
 */
import type { ChannelLayer, LayerHandler } from './layer.js';

export class MemoryLayer implements ChannelLayer {
  private readonly groups = new Map<string, Set<LayerHandler>>();

  /** @param onHandlerError told about a handler that threw (the layer itself carries on). */
  constructor(private readonly onHandlerError: (err: unknown) => void = () => {}) {}

  async subscribe(group: string, handler: LayerHandler): Promise<void> {
    let handlers = this.groups.get(group);
    if (!handlers) this.groups.set(group, (handlers = new Set()));
    handlers.add(handler);
  }

  async unsubscribe(group: string, handler: LayerHandler): Promise<void> {
    const handlers = this.groups.get(group);
    if (!handlers) return;
    handlers.delete(handler);
    if (handlers.size === 0) this.groups.delete(group);
  }

  async publish(group: string, payload: string): Promise<void> {
    const handlers = this.groups.get(group);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(payload);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  /** In-process delivery cannot be lost. */
  healthy(): boolean {
    return true;
  }

  onRecovered(_listener: () => void): void {}

  async close(): Promise<void> {
    this.groups.clear();
  }
}
