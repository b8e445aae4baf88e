// How the verifier's processor ends a job that throws: only a payload that fails validation is skipped; a code
// error fails the job after one retry, logged with its fingerprint and counted (NezukoJobCodeError alerts on it).
import { Writable } from 'node:stream';
import { Queue, QueueEvents, Worker } from 'bullmq';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { CODE_ERROR_ATTEMPTS, createProcessor, type UpdateHandlers } from '../../services/verifier/processor';
import type { BotRuntime, VerifierDeps } from '../../services/verifier/runtime';
import { useTestRedis } from '../support/redis';
import { waitFor } from '../support/process';

const redis = useTestRedis();
const BOT_ID = 7;
const lines: Array<Record<string, unknown>> = [];
const metrics = createMetrics();
let queue: Queue;
let events: QueueEvents;
let worker: Worker;
const handled: string[] = [];

/** Handlers with a bug in one place: an update naming user 13 reads a field of something that is not there. */
const buggy = {
  update: async (_deps: VerifierDeps, _rt: BotRuntime, data: { update: Record<string, unknown> }) => {
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
  const log = createLogger({ console: false, level: 'info', transports: [new winston.transports.Stream({ stream })] });
  // The processor needs only metrics and a logger here: the handlers under test are given to it.
  const deps = { ctx: { metrics } } as unknown as VerifierDeps;
  const rt = { bot: { id: BOT_ID }, log } as unknown as BotRuntime;
  const connection = { url: redis.url };
  queue = new Queue('updates-errors', { connection, prefix: redis.prefix });
  events = new QueueEvents('updates-errors', { connection, prefix: redis.prefix });
  worker = new Worker('updates-errors', createProcessor(deps, rt, buggy), { connection, prefix: redis.prefix });
  await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
});
afterAll(async () => {
  await worker?.close();
  await events?.close();
  await queue?.close();
});

const codeErrors = async () => (await metrics.jobCodeErrors.get()).values.find((v) => v.labels.bot === String(BOT_ID) && v.labels.job === 'update')?.value ?? 0;
const skipped = async (reason: string) => (await metrics.skippedUpdates.get()).values.find((v) => v.labels.bot === String(BOT_ID) && v.labels.reason === reason)?.value ?? 0;
const update = (updateId: number, fromId: number) => ({
  botInstanceId: BOT_ID,
  receivedAt: Date.now(),
  update: { update_id: updateId, message: { message_id: updateId, date: 1, chat: { id: -100, type: 'supergroup' }, from: { id: fromId, is_bot: false, first_name: 'x' }, text: 'hi' } },
});

describe('a job that throws', () => {
  it('fails on a code error after one retry (never skipped), logged with the same fingerprint each time and counted', async () => {
    const before = await codeErrors();
    const jobs = [await queue.add('update', update(501, 13), { attempts: 5, backoff: { type: 'fixed', delay: 50 } }), await queue.add('update', update(502, 13), { attempts: 5, backoff: { type: 'fixed', delay: 50 } })];
    for (const job of jobs) await job.waitUntilFinished(events).then(() => expect.fail('the job completed'), () => {});
    for (const job of jobs) {
      const done = (await queue.getJob(job.id!))!;
      expect(await done.getState()).toBe('failed');
      expect(done.attemptsMade).toBe(CODE_ERROR_ATTEMPTS);
      expect(done.failedReason).toMatch(/^code error [0-9a-f]{12}: TypeError: /);
    }
    expect((await codeErrors()) - before).toBe(2 * CODE_ERROR_ATTEMPTS);
    const logged = await waitFor(() => {
      const found = lines.filter((l) => l.message === 'job hit a code error');
      return found.length === 2 * CODE_ERROR_ATTEMPTS ? found : undefined;
    }, 5_000, 'the error lines');
    expect(logged!.every((l) => l.level === 'error' && l.job === 'update' && typeof l.fingerprint === 'string')).toBe(true);
    // One bug, one fingerprint, whichever update met it; the line carries the stack to find it by.
    expect(new Set(logged!.map((l) => l.fingerprint)).size).toBe(1);
    expect(jobs[0]!.id).not.toBe(jobs[1]!.id);
    expect(JSON.stringify(logged![0]!.err)).toContain('job-errors.test.ts');
  });

  it('is skipped (completed and counted) only when its payload fails validation', async () => {
    const before = await skipped('malformed');
    const bad = await queue.add('update', { botInstanceId: BOT_ID, update: { update_id: 'nope' }, receivedAt: Date.now() }, { attempts: 5 });
    await bad.waitUntilFinished(events);
    expect(await (await queue.getJob(bad.id!))!.getState()).toBe('completed');
    expect((await skipped('malformed')) - before).toBe(1);
    // A good update through the same handlers works.
    const fine = await queue.add('update', update(503, 14), { attempts: 1 });
    await fine.waitUntilFinished(events);
    expect(handled).toContain('503');
  });
});
