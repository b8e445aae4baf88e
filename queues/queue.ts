import {
  Queue,
  Worker,
  type ConnectionOptions,
  type Job,
  type JobsOptions,
  type Processor,
  type WorkerOptions,
} from 'bullmq';
import type { Logger } from '../services/core/logger';
import { describeError } from '../services/core/telegram/errors';
import { defaultJobOptions, type JobData, type JobName, type QueueKind, type QueueRef } from './jobs';

declare const carries: unique symbol;
/**
 * A BullMQ queue opened by openQueue(), which knows its kind: addJob() takes no other, so every job added
 * is one its queue carries, with that job's payload. Everything else (counts, job lists, Bull Board) is
 * BullMQ's own API.
 */
export type JobQueue<K extends QueueKind = QueueKind> = Queue & { readonly [carries]: K };

/** Where a queue lives and where its errors go. */
export interface QueueHost {
  connection: ConnectionOptions;
  /** The deployment's REDIS_PREFIX. */
  prefix: string;
  /** Receives the queue's errors (Redis down, a command refused); without it they are dropped, never thrown. */
  log?: Logger;
}

/** Opens a queue with the deployment's prefix, the default job options and an error listener. Close it with its owner. */
export function openQueue<K extends QueueKind>(ref: QueueRef<K>, host: QueueHost): JobQueue<K> {
  const queue = new Queue(ref.name, { connection: host.connection, prefix: host.prefix, defaultJobOptions });
  queue.on('error', (err) => host.log?.warn('queue error', { queue: ref.name, error: describeError(err) }));
  return queue as JobQueue<K>;
}

export type WorkerSettings = Omit<WorkerOptions, 'connection' | 'prefix'>;

/**
 * A worker on a queue, with the deployment's prefix and an error listener. `processor` is a jobProcessor()
 * (processor.ts): every worker validates, handles, sorts the outcome and counts the same way.
 */
export function openWorker(ref: QueueRef, processor: Processor, host: QueueHost, settings: WorkerSettings): Worker {
  const worker = new Worker(ref.name, processor, { ...settings, connection: host.connection, prefix: host.prefix });
  worker.on('error', (err) => host.log?.warn('worker error', { queue: ref.name, error: describeError(err) }));
  return worker;
}

/** One job for a queue: its name, its payload (typed by the name) and BullMQ's options (job id, delay…). */
export type JobSpec<K extends QueueKind> = {
  [N in JobName<K>]: { name: N; data: JobData<K, N>; opts?: JobsOptions };
}[JobName<K>];

/** Adds one job; its payload type follows from the queue's kind and the job's name. */
export function addJob<K extends QueueKind, N extends JobName<K>>(
  queue: JobQueue<K>,
  name: N,
  data: JobData<K, N>,
  opts?: JobsOptions,
): Promise<Job> {
  return queue.add(name, data, opts);
}

/** Adds several jobs in one round trip (all or none). */
export function addJobs<K extends QueueKind>(queue: JobQueue<K>, jobs: Array<JobSpec<K>>): Promise<Job[]> {
  return queue.addBulk(jobs);
}
