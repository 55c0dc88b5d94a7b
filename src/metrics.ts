/**
 * The instance's Prometheus metrics (`GET /metrics`). One registry per running instance, never prom-client's
 * global one, so that several instances in one process (the tests) keep their own counts. Hot-path totals are
 * plain numbers kept where they happen (GatewayCounters, ChatService.stats) and read here when scraped;
 * latencies are observed into histograms as they happen.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GatewayCounters } from './ws/counters.js';

/** What /metrics reads at scrape time. */
export interface MetricSources {
  counters: GatewayCounters;
  connections(): number;
  messagesStored(): number;
  /** Rooms watched and local subscriptions (hub). */
  subscriptions(): number;
}

/** Buckets of the send-to-ack histogram, in seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export class Metrics {
  readonly registry = new Registry();

  /** Content Security Policy violations browsers reported (`POST /csp-report`): something on a page was refused. */
  readonly cspReports = new Counter({
    name: 'confab_csp_reports_total',
    help: 'Content Security Policy violation reports received from browsers',
    registers: [this.registry],
  });

  /** From a `send` frame's arrival to its `ack` being written: validation, rate limit, the store's commit. */
  readonly sendSeconds = new Histogram({
    name: 'confab_send_ack_seconds',
    help: 'Time from receiving a send frame to writing its ack (the message is committed by then)',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    // Process metrics, event-loop lag included (nodejs_eventloop_lag_seconds and its percentiles).
    collectDefaultMetrics({ register: this.registry });
  }

  /** Exposes the totals kept by the gateway, the hub and the chat service. */
  watch(sources: MetricSources): void {
    const registers = [this.registry];
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const c = sources.counters;
    total('confab_frames_received_total', 'WebSocket frames received from clients', () => c.framesIn);
    total('confab_frames_sent_total', 'WebSocket frames written to clients', () => c.framesOut);
    total('confab_deliveries_total', 'Room rows (messages and changes) delivered to local subscribers', () => c.deliveries);
    total('confab_messages_stored_total', 'Messages stored by this instance', sources.messagesStored);
    total('confab_slow_consumer_closes_total', 'Connections closed (1013) for reading too slowly', () => c.slowConsumerCloses);
    total('confab_flood_closes_total', 'Connections closed (1008) for sending frames past the frame rate', () => c.floodCloses);
    total('confab_handshakes_refused_total', 'Handshakes refused with 429 (too many connections or handshakes)', () => c.handshakesRefused);
    total('confab_heartbeat_timeouts_total', 'Connections cut for missing two pings (half-open or dead peers)', () => c.heartbeatTimeouts);
    new Gauge({
      name: 'confab_connections',
      help: 'Open WebSocket connections',
      registers,
      collect() {
        this.set(sources.connections());
      },
    });
    new Gauge({
      name: 'confab_room_subscriptions',
      help: 'Local connections following a room',
      registers,
      collect() {
        this.set(sources.subscriptions());
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
