// Starts a TypeScript worker: Node 20 workers do not inherit tsx's loader, so register it, then load the entry.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
