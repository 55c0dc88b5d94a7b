/**
 * Running totals of the WebSocket side of one instance, plain numbers bumped on the hot path (a frame costs an
 * increment, not a metrics-library call); /metrics reads them when scraped.
 */
export class GatewayCounters {
  framesIn = 0;
  framesOut = 0;
  /** Connections closed with 1013 for reading too slowly. */
  slowConsumerCloses = 0;
  /** Connections closed with 1008 for flooding past the frame rate. */
  floodCloses = 0;
  /** Handshakes refused with 429 (too many connections or handshakes). */
  handshakesRefused = 0;
  /** Deliveries of a room row to a local subscriber (one message to 100 members: 100). */
  deliveries = 0;
  /** Connections cut by the heartbeat (no pong for two intervals). */
  heartbeatTimeouts = 0;
}
