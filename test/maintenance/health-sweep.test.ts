import { describe, expect, it } from 'vitest';
import { keyspace } from '../../services/core/redis';
import { HEARTBEAT_STALE_MS, heartbeatKey } from '../../queues';
import { sweepHeartbeats } from '../../services/maintenance/health-sweep';
import { makeBot } from '../db/fixtures';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';

const db = useTestDatabase();
const redis = useTestRedis();

describe('health sweep', () => {
  it('marks running bots whose poller heartbeat stopped, and leaves the others alone', async () => {
    const keys = keyspace(redis.prefix);
    const now = Date.now();
    const [fresh, silent, never, stopped] = await Promise.all([
      makeBot(db.prisma, { status: 'running' }),
      makeBot(db.prisma, { status: 'running' }),
      makeBot(db.prisma, { status: 'running' }),
      makeBot(db.prisma, { status: 'stopped', isActive: false }),
    ]);
    await redis.redis.set(heartbeatKey(keys, fresh.id), now - 5_000);
    await redis.redis.set(heartbeatKey(keys, silent.id), now - HEARTBEAT_STALE_MS - 1_000);

    const marked = await sweepHeartbeats({ db: db.prisma, redis: redis.redis, keys }, now);
    expect(marked.sort()).toEqual([silent.id, never.id].sort());
    const status = async (id: number) => (await db.prisma.botInstance.findUniqueOrThrow({ where: { id } })).status;
    expect(await status(fresh.id)).toBe('running');
    expect(await status(silent.id)).toBe('restarting');
    expect(await status(never.id)).toBe('restarting');
    expect(await status(stopped.id)).toBe('stopped');
    const reason = (await db.prisma.botInstance.findUniqueOrThrow({ where: { id: silent.id } })).statusReason;
    expect(reason).toMatch(/no poller heartbeat/);

    // A second sweep finds nothing new to mark: restarting bots wait for a poller.
    expect(await sweepHeartbeats({ db: db.prisma, redis: redis.redis, keys }, now)).toEqual([]);
  });
});
