import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

test('defaults: port 8000 on 127.0.0.1, SQLite in ./data, documented limits', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8000);
  assert.equal(c.host, '127.0.0.1');
  assert.deepEqual(c.database, { kind: 'sqlite', path: './data/confab.db' });
  assert.equal(c.maxMessageChars, 4000);
  assert.equal(c.maxFrameBytes, 65536);
  assert.equal(c.logLevel, 'info');
});

test('values from the environment are parsed; empty strings mean unset', () => {
  const c = loadConfig({ PORT: '9001', HOST: '0.0.0.0', DATABASE_URL: 'sqlite:/tmp/x.db', MAX_MESSAGE_CHARS: '10', LOG_LEVEL: '' });
  assert.equal(c.port, 9001);
  assert.equal(c.host, '0.0.0.0');
  assert.deepEqual(c.database, { kind: 'sqlite', path: '/tmp/x.db' });
  assert.equal(c.maxMessageChars, 10);
  assert.equal(c.logLevel, 'info');
});

test('PostgreSQL and Redis are chosen by URL', () => {
  const c = loadConfig({ DATABASE_URL: 'postgres://u@db:5432/chat', REDIS_URL: 'redis://cache:6379' });
  assert.deepEqual(c.database, { kind: 'postgres', url: 'postgres://u@db:5432/chat' });
  assert.equal(c.redisUrl, 'redis://cache:6379');
  assert.equal(loadConfig({}).redisUrl, null);
  assert.throws(() => loadConfig({ REDIS_URL: 'http://cache' }), /REDIS_URL/);
});

test('a bad value stops the start with a message naming the variable', () => {
  for (const [name, value] of [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['LOG_LEVEL', 'loud'],
    ['MAX_FRAME_BYTES', '-1'],
    ['MAX_MESSAGE_CHARS', '1.5'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (err: unknown) => err instanceof ConfigError && err.message.includes(name) && err.message.includes(value),
      `${name}=${value}`,
    );
  }
});

test('several bad values are all named at once', () => {
  assert.throws(
    () => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' }),
    (err: unknown) => err instanceof ConfigError && /PORT/.test(err.message) && /LOG_LEVEL/.test(err.message),
  );
});
