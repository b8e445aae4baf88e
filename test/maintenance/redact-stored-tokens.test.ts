// The one-off clean-up of bot tokens that older versions stored inside errors (bot status, exports, audit values,
// BullMQ job failures and queue events).
import { QueueEvents } from 'bullmq';
import { addJob, openQueue, openWorker, updatesQueue } from '../../queues';
import { describe, expect, it } from 'vitest';
import { keyspace } from '../../services/core/redis';
import { redactStoredTokens } from '../../services/maintenance/redact-stored-tokens';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';
import { makeBot } from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();

const TOKEN = '7000000123:AAHk3mZq0r_9xVbN-2yLwPqRsTuVwXyZaBcDe';
const SECRET = TOKEN.split(':')[1]!;
/** What node-fetch said when Telegram's answer was not JSON (as Telegraf let it through). */
const LEAKY = `FetchError: invalid json response body at http://127.0.0.1:8081/bot${TOKEN}/getChatMember reason: Unexpected token '<'`;

async function everythingInRedis(): Promise<string> {
  const r = redis.redis;
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${redis.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await r.type(key);
      if (type === 'hash') parts.push(JSON.stringify(await r.hgetall(key)));
      else if (type === 'stream') parts.push(JSON.stringify(await r.xrange(key, '-', '+')));
      else if (type === 'string') parts.push((await r.get(key)) ?? '');
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('one-off redaction of stored tokens', () => {
  it(
    'cleans bot status, export errors, audit values, job failures and queue events, once',
    { timeout: 30_000 },
    async () => {
      const db = database.prisma;
      const bot = await makeBot(db);
      await db.botInstance.update({
        where: { id: bot.id },
        data: {
          status: 'crashed',
          statusReason: `gave up after 3 restarts: getUpdates failed 8 times in a row: ${LEAKY}`,
          lastError: LEAKY,
        },
      });
      const exp = await db.export.create({
        data: { kind: 'verifications', filters: {}, status: 'failed', error: LEAKY, finishedAt: new Date() },
      });
      await db.adminAuditLog.create({
        data: { action: 'bot.update', resourceType: 'bot', resourceId: String(bot.id), newValues: { reason: LEAKY } },
      });

      // A job that failed the way the verifier's did: its failedReason, stacktrace and failed event hold the URL.
      const host = { connection: { url: redis.url }, prefix: redis.prefix };
      const queue = openQueue(updatesQueue(bot.id), host);
      const events = new QueueEvents(updatesQueue(bot.id).name, host);
      await events.waitUntilReady();
      const failed = new Promise<void>((resolve) => events.once('failed', () => resolve()));
      const worker = openWorker(
        updatesQueue(bot.id),
        async () => {
          const err = new Error(LEAKY.replace('FetchError: ', ''));
          err.name = 'FetchError';
          throw err;
        },
        host,
        {},
      );
      await addJob(
        queue,
        'update',
        { botInstanceId: bot.id, update: { update_id: 1 }, receivedAt: Date.now() },
        { jobId: 'u-1-1', attempts: 1 },
      );
      await failed;
      await Promise.all([worker.close(), events.close()]);
      const before = await everythingInRedis();
      expect(before).toContain(SECRET); // the job hash and the events stream hold it

      const result = await redactStoredTokens({ db, redis: redis.redis, keys: keyspace(redis.prefix) });
      expect(result).toMatchObject({ rows: 3 });
      expect(result!.jobHashes).toBe(1);
      expect(result!.streamEntries).toBeGreaterThanOrEqual(1);

      expect(await everythingInRedis()).not.toContain(SECRET);
      const job = await queue.getJob('u-1-1');
      expect(job?.failedReason).toContain('/bot[redacted]/getChatMember'); // still says what happened
      expect((job?.stacktrace ?? []).join('\n')).not.toContain(SECRET);
      const row = await db.botInstance.findUniqueOrThrow({ where: { id: bot.id } });
      expect(`${row.lastError} ${row.statusReason}`).not.toContain(SECRET);
      expect(row.lastError).toContain(
        'invalid json response body at http://127.0.0.1:8081/bot[redacted]/getChatMember',
      );
      expect((await db.export.findUniqueOrThrow({ where: { id: exp.id } })).error).not.toContain(SECRET);
      expect(JSON.stringify(await db.adminAuditLog.findMany())).not.toContain(SECRET);

      // Once per deployment: the next maintenance start does nothing.
      expect(await redactStoredTokens({ db, redis: redis.redis, keys: keyspace(redis.prefix) })).toBeNull();
      await queue.close();
    },
  );

  it('stops when its signal is aborted (a shutdown), and is not marked done', async () => {
    // A keyspace of its own: the test above marked its own done.
    const ctx = { db: database.prisma, redis: redis.redis, keys: keyspace(`${redis.prefix}:stop`) };
    const shutdown = new AbortController();
    shutdown.abort(new Error('shutting down'));
    await expect(redactStoredTokens(ctx, { signal: shutdown.signal })).rejects.toThrow('shutting down');
    // It runs again at the next start: nothing recorded it as done.
    expect(await redactStoredTokens(ctx)).not.toBeNull();
  });
});
