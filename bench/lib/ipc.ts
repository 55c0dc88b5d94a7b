/** What the coordinator (bench/main.ts) and the generator processes (gen-worker.ts) say to each other. */
export type SystemKind = 'confab' | 'bare-ws' | 'socketio';

/** One client connection to open: which system, where, as whom, and the room it joins (if any). */
export interface ConnSpec {
  kind: SystemKind;
  url: string;
  /** Confab: the session cookie of the user this connection signs in as. */
  cookie?: string;
  /** The system's room key (Confab: the room id); null: connect only (idle). */
  room: string | number | null;
  roomIdx: number;
  /** Confab: this connection will send receipts, so it tracks the newest seq it received. */
  receipts?: boolean;
}

export type Request =
  | { op: 'connect'; conns: ConnSpec[]; concurrency: number; localAddress: string }
  | {
      op: 'run';
      step: number;
      /** Epoch ms of the first send. */
      start: number;
      rooms: number;
      msgsPerRoom: number;
      sendersPerRoom: number;
      /** Messages per second over all rooms. */
      msgRate: number;
      /** Local indexes of the connections that send, each the `sender`-th sender of its room. */
      senders: Array<{ local: number; sender: number }>;
      receipts: boolean;
      typing: boolean;
    }
  | { op: 'count' }
  | { op: 'collect' }
  | { op: 'close' };

export interface ConnectReply {
  ok: number;
  failed: number;
  errors: string[];
  ms: number;
}

export interface CountReply {
  received: number;
  sent: number;
}

export interface CollectReply {
  latencies: Float64Array;
  received: number;
  duplicated: number;
  /** Deliveries of an earlier step that arrived late (counted lost there). */
  stale: number;
  sent: number;
  /** How late the generator sent, behind the fixed schedule (ms): its own saturation. */
  sendLagMax: number;
  sendLagP99: number;
  /** Epoch ms of the last delivery. */
  lastReceiveAt: number;
  /** Error frames the server answered (Confab: error frames; others: none). */
  errors: number;
  errorSample: string;
  /** Connections that closed during the step. */
  closed: number;
}
