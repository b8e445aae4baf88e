import { describe, expect, it } from 'vitest';
import { assertHandlers, maintenanceJobs, MissingHandlerError, updateJobId, updateJobs, updatesQueueName } from '../../queues';

describe('queue registry', () => {
  it('builds ids BullMQ accepts: no colon, not all digits, deterministic', () => {
    const id = updateJobId(3, 123456);
    expect(id).toBe('u-3-123456');
    expect(id).not.toContain(':');
    expect(id).not.toMatch(/^\d+$/);
    expect(updatesQueueName(3)).toBe('updates-3');
  });

  it('validates update payloads and strips unknown top-level fields', () => {
    const ok = updateJobs.update.safeParse({ botInstanceId: 1, update: { update_id: 5, message: { text: 'hi' } }, receivedAt: Date.now() });
    expect(ok.success).toBe(true);
    const stripped = updateJobs.update.parse({ botInstanceId: 1, update: { update_id: 5 }, receivedAt: 1, token: 'x' });
    expect(stripped).not.toHaveProperty('token');
    expect(updateJobs.update.safeParse({ botInstanceId: 0, update: { update_id: 5 }, receivedAt: 1 }).success).toBe(false);
    expect(updateJobs.update.safeParse({ botInstanceId: 1, update: {}, receivedAt: 1 }).success).toBe(false);
  });

  it('refuses to start when a job has no handler or a handler has no job', () => {
    const all = Object.fromEntries(Object.keys(maintenanceJobs).map((name) => [name, () => {}]));
    expect(() => assertHandlers('maintenance', maintenanceJobs, all)).not.toThrow();
    const { retention: _omitted, ...missing } = all;
    expect(() => assertHandlers('maintenance', maintenanceJobs, missing)).toThrow(MissingHandlerError);
    expect(() => assertHandlers('maintenance', maintenanceJobs, missing)).toThrow(/no handler for retention/);
    expect(() => assertHandlers('maintenance', maintenanceJobs, { ...all, bogus: () => {} })).toThrow(/unknown job bogus/);
  });
});
