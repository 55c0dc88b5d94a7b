/**
 * Group commit: work submitted in the same event-loop turn is committed together, in one transaction, and
 * each caller's promise settles only after that commit. The queue is flushed on `setImmediate` (after the
 * turn's I/O callbacks, so every socket read of the turn joins the batch; no timer, so nothing waits when the
 * server is idle), when it reaches `max` items, or when the owner calls `flush()` (before another write that
 * must not overtake the queued ones, and on close).
 *
 * `commit` is synchronous (better-sqlite3): it gets the items in submission order and returns one outcome per
 * item, in the same order. An outcome that is an error fails only its own caller; a throw fails every caller
 * of the batch with that error (the transaction rolled back: nothing of the batch is stored).
 */

/** The most items one transaction takes; a full queue is committed at once, without waiting for the turn's end. */
export const MAX_GROUP_COMMIT = 256;

export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private scheduled = false;
  /** Transactions run so far (tests and metrics: fewer than items once batching works). */
  batches = 0;

  constructor(
    private readonly commit: (items: I[]) => Array<Outcome<O>>,
    private readonly max = MAX_GROUP_COMMIT,
  ) {}

  /** Queues an item; resolves with its outcome once the transaction that holds it has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.max) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.onTurnEnd);
      }
    });
  }

  /** Items waiting for their transaction. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits everything queued now, synchronously, in batches of at most `max`. Never throws. */
  flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      this.batches++;
      let outcomes: Array<Outcome<O>>;
      try {
        outcomes = this.commit(batch.map((p) => p.item));
      } catch (err) {
        for (const p of batch) p.reject(err);
        continue;
      }
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (o === undefined) p.reject(new Error('group commit returned no outcome for an item'));
        else if (o.ok) p.resolve(o.value);
        else p.reject(o.error);
      });
    }
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
