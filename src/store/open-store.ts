/** Picks the Store implementation from the configuration. */
import type { Config } from '../config.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export async function openStore(config: Config): Promise<Store> {
  return new SqliteStore(config.sqlitePath);
}
