/**
 * Worker for the direct-conversation race: its own connection to the same SQLite file, asking for the direct
 * conversation of each set of users it is given (in the order given), and reporting the room ids it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const { file, sets } = workerData as { file: string; sets: number[][] };
const store = new SqliteStore(file);
// Start together: every worker asks at once, so the calls really overlap.
const rooms = await Promise.all(sets.map((ids) => store.findOrCreateDirect(ids, Date.now())));
await store.close();
parentPort!.postMessage(rooms.map((r) => r.id));
