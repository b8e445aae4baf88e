import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openQueue, updatesQueue, type JobQueue } from '../../queues';
import { registerBot } from '../../services/core/bots';
import { loadConfig, type Config } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { logger } from '../../services/core/logger';
import { startPoller } from '../../services/poller';
import { startVerifier } from '../../services/verifier';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import { useTestDatabase } from './db';
import { waitFor } from './process';
import { useTestRedis } from './redis';

export interface PlatformOptions {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  env?: Record<string, string>;
}

/**
 * The simulator plus the poller and verifier roles, in this process, on real PostgreSQL and Redis:
 * what `npm start` runs, pointed at the simulator instead of Telegram.
 */
export async function startPlatform(options: PlatformOptions) {
  const sim: RunningSimulator = await startSimulator({ port: 0 });
  const client = new SimClient(sim.url);
  const config: Config = loadConfig({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.redisPrefix,
    TELEGRAM_API_ROOT: sim.apiRoot,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_TO_FILE: 'false',
    VERIFIER_CONCURRENCY: '20',
    ...options.env,
  });
  let ctx: AppContext | undefined;
  const queues = new Map<number, JobQueue<'updates'>>();

  return {
    sim,
    client,
    config,
    get ctx(): AppContext {
      if (!ctx) throw new Error('roles not started');
      return ctx;
    },
    /** A bot in the simulator, registered in the platform (token encrypted in PostgreSQL). */
    async addBot(username = `bot${randomBytes(3).toString('hex')}`): Promise<SimBot & { instanceId: number }> {
      const bot = await client.createBot({ username });
      const db = ctx?.db;
      if (!db) throw new Error('start the roles before adding bots');
      const row = await registerBot(db, config, bot.token);
      return { ...bot, instanceId: row.id };
    },
    async startRoles(): Promise<AppContext> {
      ctx = await createContext(config, logger);
      await startVerifier(ctx);
      await startPoller(ctx);
      return ctx;
    },
    /** A producer on a bot's updates queue (the platform's Redis and prefix), closed by stop(). */
    queue(instanceId: number): JobQueue<'updates'> {
      let queue = queues.get(instanceId);
      if (!queue) {
        queue = openQueue(updatesQueue(instanceId), {
          connection: { url: config.REDIS_URL },
          prefix: config.REDIS_PREFIX,
        });
        queues.set(instanceId, queue);
      }
      return queue;
    },
    async stop(): Promise<void> {
      await Promise.all([...queues.values()].map((q) => q.close()));
      await ctx?.lifecycle.shutdown('test done', 10_000);
      await sim.stop();
    },
  };
}

export type Platform = Awaited<ReturnType<typeof startPlatform>>;

/**
 * For a test file (call at module top level): the platform on the file's own database and Redis prefix, its
 * poller and verifier roles started before the file's tests and everything stopped after them. The returned
 * Platform stands for the one started in beforeAll, so tests and later hooks use it directly.
 */
export function usePlatform(options: { env?: Record<string, string> } = {}): Platform {
  const database = useTestDatabase();
  const redis = useTestRedis();
  let platform: Platform | undefined;
  beforeAll(async () => {
    platform = await startPlatform({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      env: options.env,
    });
    await platform.startRoles();
  });
  afterAll(() => platform?.stop());
  return startedLater(() => platform, 'usePlatform()');
}

/** An object that stands for one made in a hook: every property is read from it once it exists. */
export function startedLater<T extends object>(get: () => T | undefined, name: string): T {
  return new Proxy({} as T, {
    get(_, property) {
      const target = get();
      if (!target) throw new Error(`${name}: the platform exists only inside tests and hooks`);
      return Reflect.get(target, property, target);
    },
  });
}

/**
 * A protected supergroup with its owner and channels, the bot admin everywhere, set up the way a group
 * owner does it: add the bot, then send /protect @channel… in the group.
 */
export async function protectedGroup(
  platform: Platform,
  bot: SimBot,
  channelCount = 1,
  options: { mode?: 'mute' | 'join_request' } = {},
) {
  const { client } = platform;
  const owner = await client.createUser({ firstName: 'Owner' });
  const group = await client.createChat({
    type: 'supergroup',
    title: `Group ${randomBytes(2).toString('hex')}`,
    ownerId: owner.id,
  });
  const channels = [];
  for (let i = 0; i < channelCount; i++) {
    const channel = await client.createChat({
      type: 'channel',
      title: `Channel ${i + 1}`,
      username: `ch${randomBytes(4).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
    channels.push(channel);
  }
  await client.makeAdmin(group.id, bot.id, {
    can_restrict_members: true,
    can_delete_messages: true,
    can_invite_users: true,
  });
  await client.sendMessage(group.id, {
    fromId: owner.id,
    text: `/protect ${channels.map((c) => `@${c.chat.username}`).join(' ')}`,
  });
  const instanceId = (bot as SimBot & { instanceId?: number }).instanceId;
  await waitFor(
    async () =>
      (await platform.ctx.db.protectedGroup.findFirst({
        where: { chatId: BigInt(group.id), botInstanceId: instanceId, enabled: true },
      })) !== null,
    15_000,
    'the group to be protected',
  );
  if (options.mode === 'join_request') {
    await client.sendMessage(group.id, { fromId: owner.id, text: '/set mode join_request' });
    await waitFor(
      async () =>
        (await platform.ctx.db.protectedGroup.findFirst({
          where: { chatId: BigInt(group.id), mode: 'join_request' },
        })) !== null,
      15_000,
      'join_request mode',
    );
  }
  return { owner, group, channels };
}
