/**
 * Composition root: builds the store, the channel layer, the chat domain, the HTTP app and the WebSocket
 * gateway from a Config, and stops them in the order that loses nothing.
 */
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { AttachmentService } from './attachments/attachment-service.js';
import { DiskStorage } from './attachments/disk-storage.js';
import { AccessRechecks } from './chat/access-rechecks.js';
import { watchAdminEpoch } from './chat/admin-epoch.js';
import { AccountService } from './chat/accounts.js';
import { ChatService } from './chat/chat-service.js';
import { MessageChanges } from './chat/message-changes.js';
import { PresenceService } from './chat/presence.js';
import { ReceiptService } from './chat/receipts.js';
import { RateLimits } from './chat/rate-limits.js';
import type { Config } from './config.js';
import { buildHttpApp } from './http/app.js';
import { openLayer } from './layer/open-layer.js';
import { Metrics } from './metrics.js';
import { openPresence } from './presence/open-presence.js';
import { openStore } from './store/open-store.js';
import { Gateway } from './ws/gateway.js';
import { GatewayCounters } from './ws/counters.js';
import { Hub } from './ws/hub.js';

/** How often abandoned uploads are looked for (they are deleted UNSENT_UPLOAD_TTL_MS after upload). */
const UNSENT_SWEEP_INTERVAL_MS = 3_600_000;

/** A running Confab instance. */
export interface RunningConfab {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  port: number;
  log: Logger;
  gateway: Gateway;
  /** The HTTP server under the app and the gateway (tests watch its upgrades). */
  httpServer: Server;
  /** The account operations, for tests and the admin tool. */
  accounts: AccountService;
  /** The attachments, for tests (sweeping abandoned uploads at a chosen time). */
  attachments: AttachmentService;
  /** The chat domain, for tests (what its access cache holds). */
  chat: ChatService;
  /** Whether this instance owes the others a recheck, for tests. */
  rechecks: AccessRechecks;
  /** Graceful stop: no new connections, in-flight stores finish and are acked, sockets close with 1001. */
  close(): Promise<void>;
}

/** dist/web relative to this file, both when run from src/ (tsx) and from the dist/server bundle. */
function defaultWebRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', 'dist', 'web').replace(`${path.sep}dist${path.sep}dist`, `${path.sep}dist`);
}

export async function startConfab(config: Config, options: { webRoot?: string } = {}): Promise<RunningConfab> {
  const log = pino({ level: config.logLevel });
  const store = await openStore(config);
  await store.migrate();
  const layer = openLayer(config, log);
  const rateLimits = new RateLimits(config.messageRateLimit, config.messageRateWindowMs);
  // One per instance: revocations and removals whose announcement failed make it ask every instance to check.
  const rechecks = new AccessRechecks(layer, log);
  const chat = new ChatService(store, layer, { maxMessageChars: config.maxMessageChars }, rateLimits, log, rechecks);
  const attachments = new AttachmentService(
    store,
    chat,
    await DiskStorage.open(config.uploadDir),
    {
      maxUploadBytes: config.maxUploadBytes,
      uploadsPerMinute: config.uploadsPerUserPerMinute,
      uploadBytesPerHour: config.uploadBytesPerUserPerHour,
    },
    log,
  );
  // A deleted message's files are removed from storage once the delete is committed.
  const changes = new MessageChanges(store, chat, { maxMessageChars: config.maxMessageChars }, log, attachments);
  const accounts = new AccountService(store, layer, rateLimits, config.sessionTtlMs, log, rechecks);
  const receipts = new ReceiptService(store, layer, log);
  const presence = new PresenceService(store, openPresence(config, log), layer, log);
  const counters = new GatewayCounters();
  const hub = new Hub(chat, receipts, presence, log, counters);
  const metrics = new Metrics();
  await hub.start();
  // After a channel-layer outage, every local feed re-reads from the store what never arrived live.
  layer.onRecovered(() => hub.resync());

  const originPolicy = { allowedOrigins: config.allowedOrigins, trustProxy: config.trustProxy };
  const app = await buildHttpApp({
    chat,
    changes,
    accounts,
    attachments,
    originPolicy,
    layer,
    store,
    metrics,
    log,
    webRoot: options.webRoot ?? defaultWebRoot(),
    headersTimeoutMs: config.headersTimeoutMs,
  });
  const gateway = new Gateway(app.server, {
    ...config,
    chat,
    changes,
    receipts,
    presence,
    accounts,
    hub,
    log,
    originPolicy,
    counters,
    observeSendSeconds: (s) => metrics.sendSeconds.observe(s),
  });
  // Revocations and removals from rooms published during the outage never arrived either: check them again.
  // The same when another instance (or this one) could not publish one while the layer was up for the rest.
  const recheckAll = (why: string) => () => {
    gateway.recheckAll().catch((err: unknown) => log.warn({ err }, `could not check connections again ${why}`));
  };
  layer.onRecovered(recheckAll('after the outage'));
  const stopRechecks = await rechecks.watch(recheckAll('when asked to'));
  metrics.watch({
    counters,
    connections: () => gateway.connectionCount,
    messagesStored: () => chat.stats.messagesStored,
    subscriptions: () => hub.stats().subscriptions,
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const database = config.database.kind === 'sqlite' ? config.database.path : new URL(config.database.url).host;
  log.info({ url: `http://${host}:${port}`, store: config.database.kind, database }, 'Confab is listening');
  // Without REDIS_URL the admin tool's announcements cannot reach this process: it polls the admin epoch instead.
  const stopAdminEpoch =
    config.redisUrl === null ? watchAdminEpoch(store, () => rechecks.missed('the admin tool took access away'), log) : undefined;

  // Abandoned uploads (attached to a draft that was never sent) go after a day; checked now and every hour.
  const sweep = () => {
    attachments.sweepUnsent().catch((err: unknown) => log.warn({ err }, 'could not sweep unsent uploads'));
  };
  sweep();
  const sweeper = setInterval(sweep, UNSENT_SWEEP_INTERVAL_MS).unref();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Stop accepting HTTP first (without waiting: open WebSockets would hold server.close() up).
      app.server.close();
      clearInterval(sweeper);
      await gateway.close(config.shutdownTimeoutMs);
      await chat.drain();
      await hub.close();
      await presence.close();
      await app.close();
      // After the last request: a revocation made by one of them still gets its recheck asked for.
      stopAdminEpoch?.();
      await rechecks.close();
      await stopRechecks();
      await layer.close();
      await store.close();
      log.info('Confab stopped');
    })());

  return { url: `http://${host}:${port}`, port, log, gateway, httpServer: app.server, accounts, attachments, chat, rechecks, close };
}
