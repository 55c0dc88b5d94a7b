/**
 * Configuration: the environment (and an optional `.env`) turned into one typed, validated object.
 * Every default lives here and nowhere else; README.md's configuration table lists the same variables.
 * A bad value stops the start with a message that names the variable.
 */
import { z } from 'zod';

/** Log levels accepted by pino (`silent` turns logging off, as the tests do). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:PATH or postgres://user@host:port/database')
    .default('sqlite:./data/confab.db'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+$/, 'must be redis://host:port (or rediss:// for TLS)')
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  MAX_MESSAGE_CHARS: int(1, 100_000).default(4000),
  MAX_FRAME_BYTES: int(1024, 16 * 1024 * 1024).default(64 * 1024),
  MAX_BUFFERED_BYTES: int(16 * 1024, 256 * 1024 * 1024).default(4 * 1024 * 1024),
  HEARTBEAT_INTERVAL_MS: int(1000, 3_600_000).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s*]+$/, 'each origin must be scheme://host[:port], no wildcards'))),
  ALLOW_GUESTS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  SESSION_TTL_HOURS: int(1, 24 * 365).default(24 * 30),
  MESSAGE_RATE_LIMIT: int(1, 1_000_000).default(30),
  MESSAGE_RATE_WINDOW_MS: int(100, 3_600_000).default(10_000),
  PRESENCE_TTL_S: int(1, 3600).default(30),
  MAX_UPLOAD_BYTES: int(1024, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
  UPLOADS_PER_USER_PER_MINUTE: int(1, 1_000_000).default(20),
  UPLOAD_BYTES_PER_USER_PER_HOUR: int(1024, 2 ** 50).default(200 * 1024 * 1024),
  UPLOAD_DIR: z.string().min(1).default('./data/uploads'),
  MAX_CONNECTIONS_PER_USER: int(1, 1_000_000).default(30),
  MAX_CONNECTIONS_PER_ADDRESS: int(1, 10_000_000).default(1000),
  HANDSHAKES_PER_ADDRESS_PER_MINUTE: int(1, 10_000_000).default(1200),
  FRAMES_PER_SECOND: int(1, 1_000_000).default(100),
  FLOOD_HOLD_MS: int(0, 30_000).default(5_000),
  HEADERS_TIMEOUT_MS: int(500, 300_000).default(10_000),
});

/** Every environment variable Confab reads (README.md's configuration table lists each). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/** The validated configuration every other module receives. */
export interface Config {
  port: number;
  host: string;
  /** Where the store lives: an SQLite file (`sqlite:PATH`) or a PostgreSQL server (`postgres://...`). */
  database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  /** The Redis channel layer for several instances; unset: the in-process layer (one instance). */
  redisUrl: string | null;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Longest message body, in Unicode code points. */
  maxMessageChars: number;
  /** Largest WebSocket frame accepted; larger frames close the connection with 1009 before buffering. */
  maxFrameBytes: number;
  /** A connection whose unsent output passes this is closed with 1013 and resumes later by `seq`. */
  maxBufferedBytes: number;
  /** Interval of WebSocket pings; a connection that misses two is terminated. */
  heartbeatIntervalMs: number;
  /** How long a graceful stop waits for in-flight stores before closing anyway. */
  shutdownTimeoutMs: number;
  /** Origins allowed to open the WebSocket and to make cookie-authenticated changes; empty: the server's own. */
  allowedOrigins: string[];
  /** Lets anonymous clients use the original endpoint in public rooms, labelled as guests. */
  allowGuests: boolean;
  /** Trust X-Forwarded-* from a TLS-terminating proxy (client address, https for Secure cookies). */
  trustProxy: boolean;
  /** A session ends after this long without use (sliding: each use renews it). */
  sessionTtlMs: number;
  /** Messages one user may send per window; more are refused with `rate_limited` and `retryAfterMs`. */
  messageRateLimit: number;
  messageRateWindowMs: number;
  /** With Redis: an instance that stops refreshing presence (it died) stops counting within this many seconds. */
  presenceTtlS: number;
  /** Largest attachment accepted; a larger upload is cut off while streaming and refused with `too_large`. */
  maxUploadBytes: number;
  /** Uploads one user may start per minute; more are refused with `rate_limited` before a byte is read. */
  uploadsPerUserPerMinute: number;
  /** Bytes of files one user may upload per hour (at least maxUploadBytes); more are refused with `rate_limited`. */
  uploadBytesPerUserPerHour: number;
  /** Folder of the disk attachment storage (created on start). */
  uploadDir: string;
  /** Open WebSocket connections one user may hold on this instance; more are refused with 429. */
  maxConnectionsPerUser: number;
  /** Open WebSocket connections from one client address on this instance; more are refused with 429. */
  maxConnectionsPerAddress: number;
  /** WebSocket handshakes one client address may make per minute on this instance; more are refused with 429. */
  handshakesPerAddressPerMinute: number;
  /** Frames one connection may send per second on average (bursts of twice that); more get `rate_limited`. */
  framesPerSecond: number;
  /**
   * A connection cut for flooding (1008) is held this long, unread, before its TCP connection is dropped: its
   * frames wait in TCP buffers instead of costing the server, and a client that reconnects at once can do so
   * only this often. At most 30 s: ws drops a connection whose closing handshake has not finished by then.
   */
  floodHoldMs: number;
  /** A connection whose request head (HTTP request or WebSocket handshake) is not complete this long after it opened is cut. */
  headersTimeoutMs: number;
}

/** Raised for an invalid environment; its message names every offending variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates `env` and returns the typed configuration.
 * Empty strings count as unset, so `PORT=` in a `.env` falls back to the default instead of failing.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      return `${variable}=${JSON.stringify(env[variable] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const v = parsed.data;
  if (v.UPLOAD_BYTES_PER_USER_PER_HOUR < v.MAX_UPLOAD_BYTES) {
    throw new ConfigError(
      `Invalid configuration:\n  UPLOAD_BYTES_PER_USER_PER_HOUR=${JSON.stringify(env.UPLOAD_BYTES_PER_USER_PER_HOUR ?? '')}: ` +
        `must be at least MAX_UPLOAD_BYTES (${v.MAX_UPLOAD_BYTES}), or the largest file could never be uploaded`,
    );
  }
  return {
    port: v.PORT,
    host: v.HOST,
    database: v.DATABASE_URL.startsWith('sqlite:')
      ? { kind: 'sqlite', path: v.DATABASE_URL.slice('sqlite:'.length) }
      : { kind: 'postgres', url: v.DATABASE_URL },
    redisUrl: v.REDIS_URL ?? null,
    logLevel: v.LOG_LEVEL,
    maxMessageChars: v.MAX_MESSAGE_CHARS,
    maxFrameBytes: v.MAX_FRAME_BYTES,
    maxBufferedBytes: v.MAX_BUFFERED_BYTES,
    heartbeatIntervalMs: v.HEARTBEAT_INTERVAL_MS,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    allowedOrigins: v.ALLOWED_ORIGINS,
    allowGuests: v.ALLOW_GUESTS,
    trustProxy: v.TRUST_PROXY,
    sessionTtlMs: v.SESSION_TTL_HOURS * 3_600_000,
    messageRateLimit: v.MESSAGE_RATE_LIMIT,
    messageRateWindowMs: v.MESSAGE_RATE_WINDOW_MS,
    presenceTtlS: v.PRESENCE_TTL_S,
    maxUploadBytes: v.MAX_UPLOAD_BYTES,
    uploadsPerUserPerMinute: v.UPLOADS_PER_USER_PER_MINUTE,
    uploadBytesPerUserPerHour: v.UPLOAD_BYTES_PER_USER_PER_HOUR,
    uploadDir: v.UPLOAD_DIR,
    maxConnectionsPerUser: v.MAX_CONNECTIONS_PER_USER,
    maxConnectionsPerAddress: v.MAX_CONNECTIONS_PER_ADDRESS,
    handshakesPerAddressPerMinute: v.HANDSHAKES_PER_ADDRESS_PER_MINUTE,
    framesPerSecond: v.FRAMES_PER_SECOND,
    floodHoldMs: v.FLOOD_HOLD_MS,
    headersTimeoutMs: v.HEADERS_TIMEOUT_MS,
  };
}
