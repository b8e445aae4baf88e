// How a worker ends a job that throws (queues/processor.ts, used by every worker): only a payload that fails
// validation is skipped; a code error fails the job after one retry, logged with its fingerprint and counted
// (NezukoJobCodeError alerts on it).
import { Writable } from 'node:stream';
import { QueueEvents, type Worker } from 'bullmq';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addJob,
  CODE_ERROR_ATTEMPTS,
  jobProcessor,
  maintenanceJobs,
  maintenanceQueue,
  openQueue,
  openWorker,
  updatesQueue,
  type Handlers,
  type JobQueue,
} from '../../queues';
import { createLogger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { botProcessor, updateHandlers, type UpdateHandlers } from '../../services/verifier/handlers';
import type { BotJob, BotScope } from '../../services/verifier/job';
import { useTestRedis } from '../support/redis';
import { waitFor } from '../support/process';

const redis = useTestRedis();
const BOT_ID = 7;
const lines: Array<Record<string, unknown>> = [];
const metrics = createMetrics();
let queue: JobQueue<'updates'>;
let events: QueueEvents;
let worker: Worker;
const handled: string[] = [];
let log: ReturnType<typeof createLogger>;

/** Handlers with a bug in one place: an update naming user 13 reads a field of something that is not there. */
const buggy = {
  ...updateHandlers,
  update: async (_job: BotJob, data: { update: Record<string, unknown> }) => {
    handled.push(String(data.update.update_id));
    const message = data.update.message as { from: { id: number } } | undefined;
    const profile = message?.from.id === 13 ? undefined : { name: 'someone' };
    return (profile as { name: string }).name.length;
  },
} as unknown as UpdateHandlers;

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  log = createLogger({ console: false, level: 'info', transports: [new winston.transports.Stream({ stream })] });
  // The processor needs only metrics and a logger here: the handlers under test are given to it.
  const scope = { bot: { id: BOT_ID }, metrics, log } as unknown as BotScope;
  const host = { connection: { url: redis.url }, prefix: redis.prefix };
  queue = openQueue(updatesQueue(BOT_ID), host);
  events = new QueueEvents(updatesQueue(BOT_ID).name, host);
  worker = openWorker(updatesQueue(BOT_ID), botProcessor(scope, buggy), host, {});
  await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
});
afterAll(async () => {
  await worker?.close();
  await events?.close();
  await queue?.close();
});

const codeErrors = async () =>
  (await metrics.jobCodeErrors.get()).values.find((v) => v.labels.bot === String(BOT_ID) && v.labels.job === 'update')
    ?.value ?? 0;
const skipped = async (reason: string) =>
  (await metrics.skippedUpdates.get()).values.find((v) => v.labels.bot === String(BOT_ID) && v.labels.reason === reason)
    ?.value ?? 0;
const update = (updateId: number, fromId: number) => ({
  botInstanceId: BOT_ID,
  receivedAt: Date.now(),
  update: {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1,
      chat: { id: -100, type: 'supergroup' },
      from: { id: fromId, is_bot: false, first_name: 'x' },
      text: 'hi',
    },
  },
});

describe('a job that throws', () => {
  it('fails on a code error after one retry (never skipped), logged with the same fingerprint each time and counted', async () => {
    const before = await codeErrors();
    const retried = { attempts: 5, backoff: { type: 'fixed' as const, delay: 50 } };
    const jobs = [
      await addJob(queue, 'update', update(501, 13), retried),
      await addJob(queue, 'update', update(502, 13), retried),
    ];
    for (const job of jobs)
      await job.waitUntilFinished(events).then(
        () => expect.fail('the job completed'),
        () => {},
      );
    for (const job of jobs) {
      const done = (await queue.getJob(job.id!))!;
      expect(await done.getState()).toBe('failed');
      expect(done.attemptsMade).toBe(CODE_ERROR_ATTEMPTS);
      expect(done.failedReason).toMatch(/^code error [0-9a-f]{12}: TypeError: /);
    }
    expect((await codeErrors()) - before).toBe(2 * CODE_ERROR_ATTEMPTS);
    const logged = await waitFor(
      () => {
        const found = lines.filter((l) => l.message === 'job hit a code error');
        return found.length === 2 * CODE_ERROR_ATTEMPTS ? found : undefined;
      },
      5_000,
      'the error lines',
    );
    expect(logged!.every((l) => l.level === 'error' && l.job === 'update' && typeof l.fingerprint === 'string')).toBe(
      true,
    );
    // One bug, one fingerprint, whichever update met it; the line carries the stack to find it by.
    expect(new Set(logged!.map((l) => l.fingerprint)).size).toBe(1);
    expect(jobs[0]!.id).not.toBe(jobs[1]!.id);
    expect(JSON.stringify(logged![0]!.err)).toContain('job-errors.test.ts');
  });

  it('is skipped (completed and counted) only when its payload fails validation', async () => {
    const before = await skipped('malformed');
    // Not what the contract allows: added the way a broken or hostile producer would.
    const bad = await queue.add(
      'update',
      { botInstanceId: BOT_ID, update: { update_id: 'nope' }, receivedAt: Date.now() },
      { attempts: 5 },
    );
    await bad.waitUntilFinished(events);
    expect(await (await queue.getJob(bad.id!))!.getState()).toBe('completed');
    expect((await skipped('malformed')) - before).toBe(1);
    // A good update through the same handlers works.
    const fine = await addJob(queue, 'update', update(503, 14), { attempts: 1 });
    await fine.waitUntilFinished(events);
    expect(handled).toContain('503');
  });
});

describe('a maintenance job', () => {
  /** Every maintenance job handled by a no-op, but retention has a bug. */
  const handlers = Object.fromEntries(
    Object.keys(maintenanceJobs).map((name) => [name, async () => name]),
  ) as unknown as Handlers<'maintenance', null>;
  handlers.retention = async () => (undefined as unknown as { cutoff: Date }).cutoff.getTime();
  const host = { connection: { url: redis.url }, prefix: redis.prefix };
  let maintenance: JobQueue<'maintenance'>;
  let maintenanceEvents: QueueEvents;
  let maintenanceWorker: Worker;
  const outcomes = async (job: string, outcome: string) =>
    (await metrics.jobDuration.get()).values.find(
      (v) =>
        v.metricName === 'nezuko_job_duration_seconds_count' &&
        v.labels.queue === 'maintenance' &&
        v.labels.job === job &&
        v.labels.outcome === outcome,
    )?.value ?? 0;

  beforeAll(async () => {
    maintenance = openQueue(maintenanceQueue, host);
    maintenanceEvents = new QueueEvents(maintenanceQueue.name, host);
    maintenanceWorker = openWorker(
      maintenanceQueue,
      jobProcessor({ queue: maintenanceQueue, handlers, metrics, log, scope: () => null }),
      host,
      {},
    );
    await Promise.all([maintenanceWorker.waitUntilReady(), maintenanceEvents.waitUntilReady()]);
  });
  afterAll(async () => {
    await maintenanceWorker?.close();
    await maintenanceEvents?.close();
    await maintenance?.close();
  });

  it('with a malformed payload is skipped: completed at once, logged and counted, never retried', async () => {
    const before = await outcomes('health-sweep', 'skipped');
    const bad = await maintenance.add('health-sweep', 'not an object', { attempts: 5 });
    await bad.waitUntilFinished(maintenanceEvents);
    const done = (await maintenance.getJob(bad.id!))!;
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(1);
    expect((await outcomes('health-sweep', 'skipped')) - before).toBe(1);
    expect(
      lines.some((l) => l.message === 'job skipped' && l.queue === 'maintenance' && l.reason === 'malformed'),
    ).toBe(true);
  });

  it('that hits a code error fails after one retry, counted under its job name', async () => {
    const before =
      (await metrics.jobCodeErrors.get()).values.find((v) => v.labels.bot === '' && v.labels.job === 'retention')
        ?.value ?? 0;
    const job = await addJob(maintenance, 'retention', {}, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    await job.waitUntilFinished(maintenanceEvents).then(
      () => expect.fail('the job completed'),
      () => {},
    );
    const failed = (await maintenance.getJob(job.id!))!;
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(CODE_ERROR_ATTEMPTS);
    expect(failed.failedReason).toMatch(/^code error [0-9a-f]{12}: TypeError: /);
    const after =
      (await metrics.jobCodeErrors.get()).values.find((v) => v.labels.bot === '' && v.labels.job === 'retention')
        ?.value ?? 0;
    expect(after - before).toBe(CODE_ERROR_ATTEMPTS);
  });
});
