/**
 * A generator process (forked by generator.ts, built to dist/bench/gen-worker.js): holds its share of the
 * connections, sends on a schedule fixed before the step starts (an open loop: a slow server cannot slow the
 * offered load, and latency counts from the scheduled time, so the generator's own lateness is not hidden),
 * and records every delivery: latency, duplicates, and how many arrived.
 */
import { connect, type Client } from './adapters.js';
import { nowMs } from './common.js';
import type { CollectReply, ConnSpec, ConnectReply, CountReply, Request } from './ipc.js';

let specs: ConnSpec[] = [];
let clients: Array<Client | null> = [];
/** Per connection: which messages of its room's current step it has seen. */
let seen: Uint8Array[] = [];
let step = -1;
let lat = new Float64Array(1 << 16);
let nLat = 0;
let received = 0;
let duplicated = 0;
let stale = 0;
let errors = 0;
let errorSample = '';
let sent = 0;
let lags: number[] = [];
let lastReceiveAt = 0;
let timers: NodeJS.Timeout[] = [];
/** Makes clientMsgIds unique across generator processes and runs (Confab answers a repeated id with the stored copy). */
const RUN_TAG = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function record(local: number, text: string, at: number): void {
  const e1 = text.indexOf('~', at + 1);
  const e2 = text.indexOf('~', e1 + 1);
  const e3 = text.indexOf('~', e2 + 1);
  const e4 = text.indexOf('~', e3 + 1);
  const now = nowMs();
  if (Number(text.slice(at + 1, e1)) !== step) {
    stale++;
    return;
  }
  const k = Number(text.slice(e2 + 1, e3));
  const mine = seen[local]!;
  if (mine[k]) {
    duplicated++;
    return;
  }
  mine[k] = 1;
  received++;
  lastReceiveAt = now;
  if (nLat === lat.length) {
    const bigger = new Float64Array(lat.length * 2);
    bigger.set(lat);
    lat = bigger;
  }
  lat[nLat++] = now - Number(text.slice(e3 + 1, e4));
}

async function connectAll(req: Extract<Request, { op: 'connect' }>): Promise<ConnectReply> {
  const t0 = Date.now();
  specs = req.conns;
  clients = new Array<Client | null>(specs.length).fill(null);
  seen = specs.map(() => new Uint8Array(0));
  const errs: string[] = [];
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < specs.length) {
      const i = next++;
      try {
        clients[i] = await connect(
          specs[i]!,
          {
            onBody: (text, at) => record(i, text, at),
            onError: (text) => {
              errors++;
              errorSample ||= text.slice(0, 300);
            },
            // Only where receipts will be sent: the seq look-up is work the other systems' clients do not do.
            trackSeq: specs[i]!.receipts ?? false,
          },
          req.localAddress,
        );
      } catch (err) {
        failed++;
        if (errs.length < 3) errs.push(String((err as Error).message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, specs.length) }, lane));
  return { ok: specs.length - failed, failed, errors: errs, ms: Date.now() - t0 };
}

function run(req: Extract<Request, { op: 'run' }>): void {
  step = req.step;
  nLat = 0;
  received = duplicated = stale = sent = errors = 0;
  errorSample = '';
  lags = [];
  lastReceiveAt = 0;
  seen = specs.map(() => new Uint8Array(req.msgsPerRoom));
  // Every send time is fixed now: message k of room r is the (k * rooms + r)-th of the whole schedule.
  const plan: Array<{ at: number; local: number; k: number }> = [];
  for (const { local, sender } of req.senders) {
    const r = specs[local]!.roomIdx;
    for (let k = sender; k < req.msgsPerRoom; k += req.sendersPerRoom) {
      plan.push({ at: req.start + ((k * req.rooms + r) / req.msgRate) * 1000, local, k });
    }
  }
  plan.sort((a, b) => a.at - b.at);
  const pad = 'x'.repeat(64);
  let i = 0;
  const tick = () => {
    const now = nowMs();
    while (i < plan.length && plan[i]!.at <= now) {
      const p = plan[i++]!;
      const c = clients[p.local];
      lags.push(now - p.at);
      if (!c || c.closed) continue;
      const r = specs[p.local]!.roomIdx;
      const body = `~${step}~${r}~${p.k}~${p.at.toFixed(3)}~`;
      c.send(body + pad.slice(body.length), `b${RUN_TAG}_${step}_${r}_${p.k}`);
      sent++;
    }
    if (i < plan.length) timers.push(setTimeout(tick, Math.max(0, plan[i]!.at - nowMs())));
  };
  timers.push(setTimeout(tick, Math.max(0, req.start - nowMs())));
  const end = req.start + ((req.msgsPerRoom * req.rooms) / req.msgRate) * 1000;
  if (req.receipts) {
    // Every member acknowledges cumulatively at most 4 times a second (what the web client does).
    const t = setInterval(() => {
      for (const c of clients) c?.receipt();
      if (nowMs() > end + 2000) clearInterval(t);
    }, 250);
    timers.push(t);
  }
  if (req.typing) {
    // Every sender signals typing every 3 s.
    const t = setInterval(() => {
      for (const { local } of req.senders) clients[local]?.typing();
      if (nowMs() > end) clearInterval(t);
    }, 3000);
    timers.push(t);
  }
}

function collect(): CollectReply {
  for (const t of timers) clearTimeout(t);
  timers = [];
  lags.sort((a, b) => a - b);
  return {
    latencies: lat.slice(0, nLat),
    received,
    duplicated,
    stale,
    sent,
    sendLagMax: lags.length ? lags[lags.length - 1]! : 0,
    sendLagP99: lags.length ? lags[Math.floor(lags.length * 0.99)]! : 0,
    lastReceiveAt,
    errors,
    errorSample,
    closed: clients.filter((c) => c?.closed).length,
  };
}

process.on('message', (msg: { id: number; req: Request }) => {
  const reply = (body: unknown) => process.send!({ id: msg.id, body });
  const { req } = msg;
  if (req.op === 'connect') void connectAll(req).then(reply);
  else if (req.op === 'run') {
    run(req);
    reply({});
  } else if (req.op === 'count') reply({ received, sent } satisfies CountReply);
  else if (req.op === 'collect') reply(collect());
  else if (req.op === 'close') {
    for (const c of clients) c?.close();
    reply({});
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
