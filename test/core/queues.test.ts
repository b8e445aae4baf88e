import { describe, expect, it } from 'vitest';
import {
  addJob,
  assertHandlers,
  deletePromptJobId,
  expireJoinRequestJobId,
  maintenanceJobs,
  MissingHandlerError,
  updateJobId,
  updateJobs,
  updatesQueueName,
  type JobQueue,
} from '../../queues';

describe('queue registry', () => {
  it('builds ids BullMQ accepts: no colon, not all digits, deterministic', () => {
    const id = updateJobId(3, 123456);
    expect(id).toBe('u-3-123456');
    expect(id).not.toContain(':');
    expect(id).not.toMatch(/^\d+$/);
    expect(updatesQueueName(3)).toBe('updates-3');
    // The ids the verifier gives its follow-up jobs, as they were built before they moved here.
    expect(deletePromptJobId(3, -1001234, 77)).toBe('p-3-1001234-77');
    expect(expireJoinRequestJobId(3, -1001234, 42, 1_700_000_000)).toBe('jr-3-1001234-42-1700000000');
  });

  it('lets a producer add only the jobs its queue carries, each with its own payload (checked by tsc)', () => {
    const typed = (queue: JobQueue<'updates'>) => [
      () => addJob(queue, 'delete-prompt', { botInstanceId: 1, chatId: -5, messageId: 2 }),
      // @ts-expect-error a maintenance job on a bot's queue
      () => addJob(queue, 'stats-rollup', {}),
      // @ts-expect-error a payload of another job
      () => addJob(queue, 'relift', { botInstanceId: 1, chatId: -5, messageId: 2 }),
    ];
    expect(typed).toBeTypeOf('function');
  });

  it('validates update payloads and strips unknown top-level fields', () => {
    const ok = updateJobs.update.safeParse({
      botInstanceId: 1,
      update: { update_id: 5, message: { text: 'hi' } },
      receivedAt: Date.now(),
    });
    expect(ok.success).toBe(true);
    const stripped = updateJobs.update.parse({ botInstanceId: 1, update: { update_id: 5 }, receivedAt: 1, token: 'x' });
    expect(stripped).not.toHaveProperty('token');
    expect(updateJobs.update.safeParse({ botInstanceId: 0, update: { update_id: 5 }, receivedAt: 1 }).success).toBe(
      false,
    );
    expect(updateJobs.update.safeParse({ botInstanceId: 1, update: {}, receivedAt: 1 }).success).toBe(false);
  });

  it('refuses to start when a job has no handler or a handler has no job', () => {
    const all = Object.fromEntries(Object.keys(maintenanceJobs).map((name) => [name, () => {}]));
    expect(() => assertHandlers('maintenance', maintenanceJobs, all)).not.toThrow();
    const { retention: _omitted, ...missing } = all;
    expect(() => assertHandlers('maintenance', maintenanceJobs, missing)).toThrow(MissingHandlerError);
    expect(() => assertHandlers('maintenance', maintenanceJobs, missing)).toThrow(/no handler for retention/);
    expect(() => assertHandlers('maintenance', maintenanceJobs, { ...all, bogus: () => {} })).toThrow(
      /unknown job bogus/,
    );
  });
});
