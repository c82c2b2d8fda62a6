// Fetch ahead. kafkajs fetches again only once every batch of its last fetch is handled, so a
// partition's messages used to wait for the other partitions' transactions and for the next fetch.
// Now eachBatch only queues a batch on its partition's lane and returns: kafkajs fetches while
// lanes write. Each lane writes its queue in offset order, a chunk at a time (what has queued up
// meanwhile, up to BATCH_MAX_MESSAGES / BATCH_MAX_BYTES), at most `slots` lanes at once
// (PARTITIONS_CONCURRENCY). A lane past its high-water mark pauses its partition's fetching and
// resumes it below half of that, so memory stays bounded while PostgreSQL is slow or away.
// Offsets: kafkajs's fetch position moves on enqueue; Kafka's committed offset still follows
// PostgreSQL's stored one; exactly-once is still the stored offset's compare-and-set.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log.ts';
import { errorMessage } from '../../errors.ts';
import { splitBatch, type ChunkLimits } from '../chunk/chunk.ts';
import type { Outcome } from '../pipeline.ts';
import type { Session } from './session.ts';

export interface LaneMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** What the lanes ask of the consumer (kafkajs in production). */
export interface LaneControl {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  /** Fetch `partition` from `offset` next (ignored when it is no longer assigned here). */
  seek(topic: string, partition: number, offset: bigint): void;
  /** Kafka's committed offset, after PostgreSQL's (a failure is logged by the lane and only means re-reading). */
  commit(topic: string, partition: number, next: bigint): Promise<void>;
}

export interface LanesDeps<M extends LaneMessage> {
  limits: ChunkLimits;
  /** Lanes writing at once (PARTITIONS_CONCURRENCY). */
  slots: number;
  /** Least time between two Kafka commits of a lane (default KAFKA_COMMIT_EVERY_MS; tests set it). */
  commitEveryMs?: number;
  pipeline: {
    process(topic: string, partition: number, messages: M[], session: Session): Promise<Outcome>;
    recover(topic: string, partition: number): Promise<bigint | undefined>;
  };
  control: LaneControl;
  logger: Logger;
  /** Queued messages in all lanes, after every change (a gauge). */
  onQueued?(messages: number): void;
}

/**
 * Kafka's committed offset follows PostgreSQL's at most once a second per lane (Kafka Connect's
 * offset.flush.interval.ms is the same idea): a lane that runs dry after every chunk, as at low
 * rates, would otherwise commit to Kafka, and wait for the WAL flush, once per chunk. A stored offset
 * not yet in Kafka is committed when the interval is up, busy lane or quiet, and at once on stop.
 */
const KAFKA_COMMIT_EVERY_MS = 1000;

class Lane<M extends LaneMessage> {
  queue: M[] = [];
  bytes = 0;
  /** Bumped whenever the queue is dropped: work taken under an older epoch is not ours to finish. */
  epoch = 0;
  paused = false;
  running: Promise<void> | undefined;
  lastKafkaCommit = 0;
  /** Stored in PostgreSQL, not yet committed to Kafka. */
  uncommitted: bigint | undefined;
  /** Commits `uncommitted` once KAFKA_COMMIT_EVERY_MS is up. */
  commitTimer: NodeJS.Timeout | undefined;
  /**
   * The lane's Kafka commits, chained so they land in order, and kept off the write path and out of
   * `running`: a commit waits until PostgreSQL has flushed the chunks it covers (control.commit),
   * which must hold up neither the next chunk nor a new run of the lane.
   */
  committing: Promise<void> = Promise.resolve();
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const sizeOf = (m: LaneMessage) => (m.value?.length ?? 0) + (m.key?.length ?? 0);

/** FIFO slots: at most `n` holders at once. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export class Lanes<M extends LaneMessage> {
  private readonly lanes = new Map<string, Lane<M>>();
  private readonly slots: Slots;
  private stopping = false;
  private queued = 0;

  constructor(private readonly deps: LanesDeps<M>) {
    this.slots = new Slots(deps.slots);
  }

  /** A lane pauses its partition at this many queued messages or bytes (two chunks' worth). */
  get highWater(): { messages: number; bytes: number } {
    return { messages: 2 * this.deps.limits.maxMessages, bytes: 2 * this.deps.limits.maxBytes };
  }

  /** Queues fetched `messages` (consecutive, in offset order) of a partition; its lane writes them. */
  enqueue(topic: string, partition: number, messages: M[]): void {
    if (this.stopping || messages.length === 0) return;
    const lane = this.laneOf(topic, partition);
    // Fetches follow each other; should one ever overlap what is queued, the overlap is not queued twice.
    let start = 0;
    if (lane.queue.length > 0) {
      const tail = BigInt(lane.queue[lane.queue.length - 1]!.offset);
      while (start < messages.length && BigInt(messages[start]!.offset) <= tail) start++;
    }
    for (let i = start; i < messages.length; i++) {
      lane.queue.push(messages[i]!);
      lane.bytes += sizeOf(messages[i]!);
    }
    this.count(messages.length - start);
    const hw = this.highWater;
    if (!lane.paused && (lane.queue.length >= hw.messages || lane.bytes >= hw.bytes)) {
      lane.paused = true;
      this.deps.control.pause(topic, partition);
    }
    this.kick(lane);
  }

  /** Starts the lane's writing loop unless it runs. */
  private kick(lane: Lane<M>): void {
    if (lane.running || this.stopping) return;
    lane.running = this.run(lane).finally(() => {
      lane.running = undefined;
      if (lane.queue.length > 0) this.kick(lane); // queued while the loop was returning
    });
  }

  /**
   * Drops every queue (a new group generation: kafkajs fetches again from Kafka's committed
   * offsets, and the stored offsets decide what is skipped). A chunk in flight finishes or is fenced.
   */
  clear(): void {
    for (const lane of this.lanes.values()) this.drop(lane);
  }

  /** Queued messages of a partition (for tests; the gauge follows the total). */
  queuedOf(topic: string, partition: number): number {
    return this.lanes.get(keyOf(topic, partition))?.queue.length ?? 0;
  }

  /** Stops taking work: every lane finishes (or gives up) its chunk in flight, then this resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.lanes.values()].map((l) => l.running));
    await Promise.all([...this.lanes.values()].map((l) => this.commitToKafka(l, true)));
    for (const lane of this.lanes.values()) this.drop(lane);
  }

  private laneOf(topic: string, partition: number): Lane<M> {
    const key = keyOf(topic, partition);
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new Lane(topic, partition)));
    return lane;
  }

  private count(delta: number): void {
    this.queued += delta;
    this.deps.onQueued?.(this.queued);
  }

  /**
   * Chains the commit of the lane's stored offset to Kafka (in order, off the write path): now when
   * `force` or the interval is up, else when it is up. Returns the lane's commit chain.
   */
  private commitToKafka(lane: Lane<M>, force: boolean): Promise<void> {
    if (lane.uncommitted === undefined) return lane.committing;
    const wait = lane.lastKafkaCommit + (this.deps.commitEveryMs ?? KAFKA_COMMIT_EVERY_MS) - Date.now();
    if (!force && wait > 0) {
      lane.commitTimer ??= setTimeout(() => {
        lane.commitTimer = undefined;
        void this.commitToKafka(lane, true);
      }, wait).unref();
      return lane.committing;
    }
    clearTimeout(lane.commitTimer);
    lane.commitTimer = undefined;
    const { topic, partition } = lane;
    const next = lane.uncommitted;
    lane.uncommitted = undefined;
    lane.lastKafkaCommit = Date.now();
    lane.committing = lane.committing
      .then(() => this.deps.control.commit(topic, partition, next))
      // PostgreSQL's stored offset decides; a lost Kafka commit only means re-reading.
      .catch((err: unknown) => this.deps.logger.warn({ topic, partition, err: errorMessage(err) }, 'Kafka offset commit failed (harmless: PostgreSQL holds the stored offset)'));
    return lane.committing;
  }

  private drop(lane: Lane<M>): void {
    void this.commitToKafka(lane, true); // what is stored goes to Kafka before the lane's position moves
    lane.epoch++;
    this.count(-lane.queue.length);
    lane.queue = [];
    lane.bytes = 0;
    if (lane.paused) {
      lane.paused = false;
      this.deps.control.resume(lane.topic, lane.partition);
    }
  }

  /** Drops what was queued while waiting (fetched past the gap) and fetches the partition from `offset`. */
  private refetch(lane: Lane<M>, offset: bigint): void {
    this.drop(lane);
    this.deps.control.seek(lane.topic, lane.partition, offset);
  }

  /** Takes the lane's next chunk off its queue. */
  private take(lane: Lane<M>): M[] {
    const first = splitBatch(lane.queue, this.deps.limits).next();
    const messages = first.done ? [] : first.value;
    lane.queue = lane.queue.slice(messages.length);
    for (const m of messages) lane.bytes -= sizeOf(m);
    this.count(-messages.length);
    const hw = this.highWater;
    if (lane.paused && lane.queue.length < hw.messages / 2 && lane.bytes < hw.bytes / 2) {
      lane.paused = false;
      this.deps.control.resume(lane.topic, lane.partition);
    }
    return messages;
  }

  /** Writes the lane's queue, a chunk per slot, until it is empty. */
  private async run(lane: Lane<M>): Promise<void> {
    const { topic, partition } = lane;
    try {
      while (lane.queue.length > 0 && !this.stopping) {
        const release = await this.slots.acquire();
        const epoch = lane.epoch;
        let outcome: Outcome | { kind: 'failed'; err: unknown; from: bigint };
        let messages: M[] = [];
        try {
          if (lane.queue.length === 0 || this.stopping) break;
          messages = this.take(lane);
          const session: Session = { active: () => !this.stopping && lane.epoch === epoch };
          outcome = await this.deps.pipeline.process(topic, partition, messages, session);
        } catch (err) {
          // e.g. the stored offset unreadable while PostgreSQL is away: fetch these messages again
          outcome = { kind: 'failed', err, from: BigInt(messages[0]?.offset ?? '0') };
        } finally {
          release();
        }
        if (lane.epoch !== epoch) {
          // dropped meanwhile (a new generation): what was stored stays stored; Kafka's offset is the new generation's
          continue;
        }
        if (outcome.kind === 'committed') {
          lane.uncommitted = outcome.next;
          faultAfterDbCommit();
          void this.commitToKafka(lane, false);
          continue;
        }
        if (outcome.kind === 'stopped') break;
        this.drop(lane);
        await lane.committing;
        if (outcome.kind === 'seek') {
          this.deps.control.seek(topic, partition, outcome.offset);
        } else if (outcome.kind === 'failed') {
          this.deps.logger.error({ topic, partition, err: errorMessage(outcome.err) }, 'partition lane failed: fetching its messages again in 1 s');
          await sleep(1000);
          if (lane.epoch === epoch + 1 && !this.stopping) this.refetch(lane, outcome.from);
        } else {
          // fenced: another worker stored past us; fetch from where the stored offset now stands
          const current = await this.deps.pipeline.recover(topic, partition);
          if (current !== undefined && lane.epoch === epoch + 1) this.refetch(lane, current);
        }
      }
    } finally {
      void this.commitToKafka(lane, this.stopping); // stop() waits for it; otherwise within the interval
    }
  }
}

/** Test-only fault point: kill the process between the PostgreSQL commit and the Kafka commit. */
function faultAfterDbCommit(): void {
  if (process.env.ORCHESTRY_TEST_FAULT === 'crash-after-db-commit') process.kill(process.pid, 'SIGKILL');
}
