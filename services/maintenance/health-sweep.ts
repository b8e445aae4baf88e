import type { Redis } from 'ioredis';
import { HEARTBEAT_STALE_MS, lastBeats } from '../../queues';
import type { PrismaClient } from '../core/db';
import type { Keyspace } from '../core/redis';

/**
 * Bots recorded as running whose poller heartbeat stopped (its process died and no other poller has taken
 * the bot yet, or there is no poller at all) are marked `restarting` with the reason, so the status an operator
 * sees is true. Any poller that takes the bot over sets it back to `running`. Returns the bots marked.
 */
export async function sweepHeartbeats(
  deps: { db: PrismaClient; redis: Redis; keys: Keyspace },
  now = Date.now(),
): Promise<number[]> {
  const running = await deps.db.botInstance.findMany({
    where: { isActive: true, deletedAt: null, status: 'running' },
    select: { id: true },
  });
  if (!running.length) return [];
  const beats = await lastBeats(
    deps.redis,
    deps.keys,
    running.map((b) => b.id),
  );
  const stale = running.filter((_, i) => !beats[i] || now - beats[i]! > HEARTBEAT_STALE_MS).map((b) => b.id);
  if (stale.length) {
    await deps.db.botInstance.updateMany({
      // Only those still `running`: a poller that took one over meanwhile has written a fresher status.
      where: { id: { in: stale }, status: 'running' },
      data: {
        status: 'restarting',
        statusReason: `no poller heartbeat for over ${HEARTBEAT_STALE_MS / 1000} s; waiting for a poller to take the bot over`,
      },
    });
  }
  return stale;
}
