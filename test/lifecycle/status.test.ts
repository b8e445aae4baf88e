import { describe, expect, it } from 'vitest';
import { botHealth } from '../../services/api/bot-health';
import { controlBot } from '../../queues';
import { usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { sleep } from './helpers';

const platform = usePlatform({
  env: { POLL_MAX_FAILURES: '2', BOT_MAX_RESTARTS: '2', BOT_RESTART_BACKOFF_MS: '200', LOG_LEVEL: 'error' },
});

const row = (id: number) => platform.ctx.db.botInstance.findUniqueOrThrow({ where: { id } });
const waitStatus = (id: number, status: string, timeoutMs = 15_000) =>
  waitFor(
    async () => {
      const bot = await row(id);
      return bot.status === status ? bot : undefined;
    },
    timeoutMs,
    `bot ${id} to be ${status}`,
  );

/** The bot is polled: a private message sent to it leaves Telegram's pending updates. */
async function polled(bot: { id: number }, timeoutMs = 10_000) {
  const user = await platform.client.createUser();
  await platform.client.sendPrivateMessage(bot.id, user.id, 'ping');
  await waitFor(
    async () => (await platform.client.pendingUpdates(bot.id)).updates.length === 0,
    timeoutMs,
    `bot ${bot.id} to be polled`,
  );
}

describe('bot status, restarts and health', () => {
  it('restarts a failing poll loop with backoff, then gives up as crashed; start brings it back', async () => {
    const bot = await platform.addBot();
    const bystander = await platform.addBot();
    await waitStatus(bot.instanceId, 'running');
    await platform.client.addFaults(bot.id, [{ kind: 'server_error', method: 'getUpdates', probability: 1 }]);
    await polled({ id: bystander.id });
    // Wake the in-flight long poll so the next getUpdates meets the fault.
    const user = await platform.client.createUser();
    await platform.client.sendPrivateMessage(bot.id, user.id, 'wake up');

    const crashed = await waitStatus(bot.instanceId, 'crashed', 20_000);
    expect(crashed!.statusReason).toMatch(/gave up after 2 restarts: getUpdates failed 2 times in a row: .*502/);
    expect(crashed!.restartCount).toBe(2);
    expect(crashed!.lastError).toMatch(/502/);
    const health = await botHealth(platform.ctx, bot.instanceId);
    expect(health).toMatchObject({ health: 'crashed', status: 'crashed' });
    expect(health!.reasons[0]).toMatch(/gave up after 2 restarts/);
    // Crashed stays crashed: no more polling.
    const calls = (await platform.client.calls(bot.id, { method: 'getUpdates' })).counters.total;
    await sleep(2_500);
    expect((await platform.client.calls(bot.id, { method: 'getUpdates' })).counters.total).toBe(calls);
    // The bystander never noticed.
    await polled({ id: bystander.id });
    expect((await row(bystander.instanceId)).status).toBe('running');

    await platform.client.clearFaults(bot.id);
    await controlBot(platform.ctx, bot.instanceId, 'start');
    const back = await waitStatus(bot.instanceId, 'running');
    expect(back!.statusReason).toBeNull();
    expect(back!.restartCount).toBe(0);
    await waitFor(
      async () => (await platform.client.pendingUpdates(bot.id)).updates.length === 0,
      10_000,
      'the update sent while crashed to be polled',
    );
    await polled(bot);
  });

  it('a revoked token stops the bot with the reason, deactivates it, with no restart storm; other bots untouched', async () => {
    const bot = await platform.addBot();
    const other = await platform.addBot();
    await waitStatus(bot.instanceId, 'running');
    await waitStatus(other.instanceId, 'running');
    await platform.client.revokeToken(bot.id);
    const user = await platform.client.createUser();
    await platform.client.sendPrivateMessage(bot.id, user.id, 'wake up');
    const stopped = await waitStatus(bot.instanceId, 'stopped');
    expect(stopped!.statusReason).toMatch(/token revoked.*401/);
    expect(stopped!.isActive).toBe(false);
    expect(stopped!.restartCount).toBe(0);
    const { calls } = await platform.client.calls(bot.id, { method: 'getUpdates' });
    const unauthorized = calls.filter((c) => c.errorCode === 401).length;
    await sleep(3_000);
    const after = (await platform.client.calls(bot.id, { method: 'getUpdates' })).calls.filter(
      (c) => c.errorCode === 401,
    ).length;
    console.log(
      `[status] getUpdates answered 401: ${unauthorized} before stop, ${after - unauthorized} in the 3 s after`,
    );
    expect(unauthorized).toBe(1);
    expect(after).toBe(unauthorized);
    expect((await botHealth(platform.ctx, bot.instanceId))!.health).toBe('stopped');

    await polled(other);
    const otherRow = await row(other.instanceId);
    expect(otherRow).toMatchObject({ status: 'running', statusReason: null, isActive: true, restartCount: 0 });
  });

  it('reports 409 when someone else polls the token, and clears it when they stop', async () => {
    const bot = await platform.addBot();
    await waitStatus(bot.instanceId, 'running');
    await controlBot(platform.ctx, bot.instanceId, 'stop');
    await waitFor(
      async () => !(await platform.ctx.redis.exists(platform.ctx.keys.bot(bot.instanceId, 'poller-lease'))),
      5_000,
      'the lease to be released',
    );
    // Someone else's long poll on the same token (another deployment, a developer's laptop …).
    const foreign = new AbortController();
    const foreignPoll = fetch(`${platform.sim.apiRoot}/bot${bot.token}/getUpdates?timeout=20`, {
      signal: foreign.signal,
    }).catch(() => undefined);
    await sleep(200);
    await controlBot(platform.ctx, bot.instanceId, 'start');
    const conflicted = await waitFor(
      async () => {
        const r = await row(bot.instanceId);
        return r.status === 'running' && r.statusReason?.includes('409') ? r : undefined;
      },
      10_000,
      'the 409 to be reported',
    );
    expect(conflicted!.statusReason).toMatch(/409 Conflict: another process is polling this token/);
    const health = await botHealth(platform.ctx, bot.instanceId);
    expect(health!.reasons.join('; ')).toContain('409');
    expect(health!.health).not.toBe('healthy');
    foreign.abort();
    await foreignPoll;
    // The next successful getUpdates clears it (an idle long poll succeeds only when it returns, so send something).
    await polled(bot, 20_000);
    await waitFor(async () => (await row(bot.instanceId)).statusReason === null, 5_000, 'the 409 to be cleared');
    expect((await platform.client.calls(bot.id)).counters.conflicts409).toBeGreaterThan(0);
  });

  it('health: healthy while running, stopped when stopped, unresponsive when Telegram cannot be reached', async () => {
    const bot = await platform.addBot();
    await waitStatus(bot.instanceId, 'running');
    await polled(bot);
    const healthy = await botHealth(platform.ctx, bot.instanceId);
    expect(healthy).toMatchObject({ health: 'healthy', reasons: [], breaker: 'closed', probe: { ok: true } });
    expect(healthy!.heartbeatAgeMs).toBeLessThan(10_000);
    expect(healthy!.counters.updates_polled).toBeGreaterThan(0);

    const port = await freePort();
    // The probe's answer is shared for 15 s (PROBE_CACHE_MS): forget it to probe the unreachable root now.
    await platform.ctx.redis.del(platform.ctx.keys.bot(bot.instanceId, 'probe'));
    const down = await botHealth(
      { ...platform.ctx, config: { ...platform.ctx.config, TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` } },
      bot.instanceId,
    );
    expect(down!.health).toBe('unresponsive');
    expect(down!.probe.ok).toBe(false);
    expect(down!.reasons.join('; ')).toMatch(/getMe failed: network error/);

    await controlBot(platform.ctx, bot.instanceId, 'stop');
    const stopped = await botHealth(platform.ctx, bot.instanceId);
    expect(stopped).toMatchObject({ health: 'stopped', status: 'stopped', reasons: ['stopped by an operator'] });
    expect(await botHealth(platform.ctx, 999_999)).toBeNull();
  });
});
