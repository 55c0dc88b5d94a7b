/** Picks the Store implementation from the configuration. */
import type { Config } from '../config.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export async function openStore(config: Config): Promise<Store> {
  return config.database.kind === 'sqlite' ? new SqliteStore(config.database.path) : new PostgresStore(config.database.url);
}
