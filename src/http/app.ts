/**
 * The HTTP side: security headers, the JSON API, health checks and the built web client.
 * Routes decode and validate, then call the chat domain; no SQL here.
 */
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { ChatService } from '../chat/chat-service.js';
import type { MessageChanges } from '../chat/message-changes.js';
import type { OriginPolicy } from '../access/origin.js';
import type { AccountService } from '../chat/accounts.js';
import type { AttachmentService } from '../attachments/attachment-service.js';
import type { ChannelLayer } from '../layer/layer.js';
import type { Metrics } from '../metrics.js';
import { ConfabError, toConfabError } from '../errors.js';
import { StoreUnavailableError } from '../store/store.js';
import { authPlugin } from './auth.js';
import { attachmentRoutes } from './routes/attachments.js';
import { authRoutes } from './routes/auth.js';
import type { Store } from '../store/store.js';
import { cspReportRoutes } from './routes/csp-report.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { messageRoutes } from './routes/messages.js';
import { roomRoutes } from './routes/rooms.js';
import { searchRoutes } from './routes/search.js';
import { SearchService } from '../chat/search.js';

/** Largest JSON body the API accepts. */
export const MAX_HTTP_BODY_BYTES = 64 * 1024;
/** How often Node looks for connections past HEADERS_TIMEOUT_MS: a stalled one is cut within that plus this. */
export const HEADERS_CHECK_INTERVAL_MS = 1000;

export interface HttpDeps {
  chat: ChatService;
  changes: MessageChanges;
  accounts: AccountService;
  attachments: AttachmentService;
  layer: ChannelLayer;
  originPolicy: OriginPolicy;
  store: Store;
  metrics: Metrics;
  log: Logger;
  /** Folder of the built web client (dist/web). */
  webRoot: string;
  /** A request head (or WebSocket handshake) not complete this long after the connection opened is cut. */
  headersTimeoutMs: number;
}

export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: MAX_HTTP_BODY_BYTES,
    trustProxy: deps.originPolicy.trustProxy,
    // A client that opens a connection and never finishes its request head (an HTTP request or a WebSocket
    // handshake) holds a socket and parser state: it is cut after headersTimeoutMs, checked this often.
    serverFactory: (handler) =>
      createServer({ headersTimeout: deps.headersTimeoutMs, connectionsCheckingInterval: HEADERS_CHECK_INTERVAL_MS }, handler),
  });

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        // Browsers report what the policy refused; counted and logged (routes/csp-report.ts).
        reportUri: ['/csp-report'],
      },
    },
    referrerPolicy: { policy: 'same-origin' },
    // Plain http on 127.0.0.1 by default: HSTS belongs to the TLS proxy in front, not here.
    strictTransportSecurity: false,
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ConfabError || err instanceof StoreUnavailableError) {
      const e = toConfabError(err);
      if (e.code === 'store_unavailable') request.log.warn({ err }, 'store unavailable');
      if (e.retryAfterMs !== undefined) reply.header('retry-after', Math.ceil(e.retryAfterMs / 1000));
      return reply.status(e.httpStatus).send({
        error: { code: e.code, message: e.message, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) },
      });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const e = new ConfabError('bad_request', (err as Error).message);
      return reply.status(status).send({ error: { code: e.code, message: e.message } });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'Internal error' } });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: 'Not found' } }),
  );

  await app.register(authPlugin, { accounts: deps.accounts, originPolicy: deps.originPolicy });
  await app.register(healthRoutes, { store: deps.store, layer: deps.layer });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(cspReportRoutes, { metrics: deps.metrics });
  await app.register(authRoutes, { accounts: deps.accounts, prefix: '/api' });
  await app.register(roomRoutes, { chat: deps.chat, accounts: deps.accounts, prefix: '/api' });
  await app.register(attachmentRoutes, { attachments: deps.attachments, prefix: '/api' });
  await app.register(searchRoutes, { search: new SearchService(deps.store, deps.chat), prefix: '/api' });
  await app.register(messageRoutes, { chat: deps.chat, changes: deps.changes, prefix: '/api' });

  if (!existsSync(deps.webRoot)) {
    deps.log.warn({ webRoot: deps.webRoot }, 'web client not built; run `npm run build`');
  }
  await app.register(fastifyStatic, { root: deps.webRoot, index: ['index.html'], wildcard: false });
  // The original app lived at /chat/ and /chat/<room>/; the client opens the room named in the path.
  app.get('/chat/', (_request, reply) => reply.sendFile('index.html'));
  app.get<{ Params: { room: string } }>('/chat/:room/', (_request, reply) => reply.sendFile('index.html'));

  return app;
}
