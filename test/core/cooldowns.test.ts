import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { createRedis, keyspace } from '../../services/core/redis';
import { BotApi } from '../../services/core/telegram/client';
import { Cooldowns } from '../../services/core/telegram/cooldowns';
import { RateLimitedError } from '../../services/core/telegram/errors';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import { tcpProxy } from '../chaos/helpers';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';

const { prefix, url } = useTestRedis();
let sim: RunningSimulator;
let client: SimClient;
let proxy: Awaited<ReturnType<typeof tcpProxy>>;
const connections: Redis[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  client = new SimClient(sim.url);
  const target = new URL(url);
  proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  await proxy?.close();
  await sim?.stop();
});

/**
 * A verifier process' view of one bot, as `services/verifier` builds it: its own Redis connection (here
 * optionally through a proxy that can cut it), its own Cooldowns, its own BotApi.
 */
function processClient(bot: SimBot, redisUrl: string) {
  const redis = createRedis(redisUrl, 'default');
  redis.on('error', () => {});
  connections.push(redis);
  const keys = keyspace(prefix);
  const api = new BotApi({
    botInstanceId: bot.id,
    token: bot.token,
    apiRoot: sim.apiRoot,
    redis,
    keys,
    cooldowns: new Cooldowns(redis, keys),
    metrics: createMetrics(),
    log: logger,
  });
  return { redis, api };
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('a 429 seen by one process', () => {
  it("stops every other process' next call before it leaves, also one whose Redis connection dropped meanwhile", async () => {
    const bot = await client.createBot();
    const a = processClient(bot, url);
    const proxied = new URL(url);
    proxied.port = String(proxy.port);
    const b = processClient(bot, proxied.toString());
    await Promise.all([a.api.call('getMe', {}), b.api.call('getMe', {})]);

    const limitA = async () => {
      await client.clearCalls(bot.id);
      await client.addFaults(bot.id, [{ kind: 'retry_after', method: 'getMe', count: 1, retryAfter: 2 }]);
      // 2 s: longer than a call waits in process, so A's caller gets the RateLimitedError at once.
      expect(await rejection(a.api.call('getMe', {}))).toBeInstanceOf(RateLimitedError);
    };
    /** B calls after A's call came back with the 429: nothing of B's may reach Telegram before it ran out. */
    const callFromB = async () => {
      const fromB = await rejection(b.api.call('getMe', {}));
      const { calls } = await client.calls(bot.id);
      return { fromB, calls };
    };

    // Both connected: B reads the cooldown A recorded.
    await limitA();
    const first = await callFromB();
    expect(first.fromB).toBeInstanceOf(RateLimitedError);
    expect(first.calls.map((c) => c.errorCode ?? 'ok')).toEqual([429]);

    // B's connection to Redis drops just as A records the next 429, and is back before B calls: a process
    // that learnt of cooldowns over pub/sub has missed this one for good; one that reads Redis has not.
    await waitFor(
      async () => (await a.redis.pttl(keyspace(prefix).bot(bot.id, 'cooldown'))) < 0,
      5_000,
      'the first cooldown to run out',
    );
    proxy.cut();
    await waitFor(() => b.redis.status !== 'ready', 5_000, 'B to notice the dropped connection');
    await limitA();
    proxy.restore();
    await waitFor(() => b.redis.status === 'ready', 10_000, 'B to reconnect');
    const second = await callFromB();
    expect(second.fromB).toBeInstanceOf(RateLimitedError);
    expect(second.calls.map((c) => c.errorCode ?? 'ok')).toEqual([429]);

    // Once it ran out, B calls again.
    const limitedAt = second.calls[0]!.at;
    await waitFor(
      async () =>
        await b.api.call('getMe', {}).then(
          () => true,
          () => false,
        ),
      5_000,
      'B to call again',
    );
    const after = (await client.calls(bot.id)).calls.slice(1);
    expect(after.length).toBeGreaterThan(0);
    for (const c of after) expect(c.at).toBeGreaterThanOrEqual(limitedAt + 2_000);
  });
});
