import type { Redis } from 'ioredis';
import type { AppContext } from '../services/core/context';
import type { PrismaClient } from '../services/core/db';
import type { Keyspace } from '../services/core/redis';

/**
 * Hot reload: a change made anywhere (admin API, CLI, a bot command) is announced on one Redis pub/sub
 * channel and applied by every process within moments; each role also reconciles periodically as a safety
 * net for a missed message.
 */
export type ControlMessage =
  | { type: 'bots-changed'; botId?: number }
  | { type: 'bot-restart'; botId: number }
  | { type: 'group-changed'; botId: number; chatId: string };

export interface ControlDeps {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
}

/** The one pub/sub channel every process listens on. */
const channel = (keys: Keyspace) => keys.key('control');

export async function publishControl(
  deps: Pick<ControlDeps, 'redis' | 'keys'>,
  message: ControlMessage,
): Promise<void> {
  await deps.redis.publish(channel(deps.keys), JSON.stringify(message));
}

/** Subscribes this process to control messages; the returned function unsubscribes. */
export async function subscribeControl(
  ctx: AppContext,
  onMessage: (message: ControlMessage) => void,
): Promise<() => Promise<void>> {
  const subscriber = ctx.redis.duplicate({ connectionName: 'nezuko-control', enableAutoPipelining: false });
  subscriber.on('error', (err) => ctx.log.warn('control subscriber error', { error: err.message }));
  subscriber.on('message', (_channel, raw: string) => {
    try {
      onMessage(JSON.parse(raw) as ControlMessage);
    } catch (err) {
      ctx.log.warn('bad control message ignored', { err });
    }
  });
  await subscriber.subscribe(channel(ctx.keys));
  return async () => {
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
}

export type BotAction = 'start' | 'stop' | 'restart';

/**
 * Start, stop or restart a bot everywhere. Start and stop persist the wish (`is_active`) so a process that
 * starts later honours it; restart asks the current poller to restart its loop.
 */
export async function controlBot(deps: ControlDeps, botId: number, action: BotAction): Promise<void> {
  if (action === 'restart') {
    await deps.db.botInstance.update({
      where: { id: botId },
      data: { status: 'restarting', statusReason: 'restart requested', isActive: true },
    });
    await publishControl(deps, { type: 'bot-restart', botId });
    return;
  }
  await deps.db.botInstance.update({
    where: { id: botId },
    data:
      action === 'start'
        ? { isActive: true, status: 'starting', statusReason: 'start requested', restartCount: 0 }
        : { isActive: false, status: 'stopped', statusReason: 'stopped by an operator' },
  });
  await publishControl(deps, { type: 'bots-changed', botId });
}

/** After a group's settings, channels or whitelist changed: every verifier drops its cached copy. */
export async function announceGroupChange(
  deps: Pick<ControlDeps, 'redis' | 'keys'>,
  botId: number,
  chatId: bigint | number,
): Promise<void> {
  await publishControl(deps, { type: 'group-changed', botId, chatId: String(chatId) });
}
