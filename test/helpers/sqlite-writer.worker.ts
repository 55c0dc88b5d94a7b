/** Worker for the SQLite concurrency test: its own connection to the same file, inserting as fast as it can. */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const { file, roomId, count, tag } = workerData as { file: string; roomId: number; count: number; tag: string };
const store = new SqliteStore(file);
const seqs: number[] = [];
for (let i = 0; i < count; i++) {
  const { message } = await store.insertMessage({
    roomId,
    authorId: null,
    author: tag,
    body: `${tag}-${i}`,
    clientMsgId: `${tag}-${i}`,
    createdAt: Date.now(),
  });
  seqs.push(message.seq);
}
await store.close();
parentPort!.postMessage(seqs);
