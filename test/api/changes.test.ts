import { describe, expect, it } from 'vitest';
import { openQueue, updatesQueue } from '../../queues';
import { createRedis } from '../../services/core/redis';
import { seedBot, useApi } from './helpers';

const api = useApi();
const admin = () => ({ token: api.tokens.admin });

describe('changes: cache invalidation, hot reload, lift jobs, audit rows', () => {
  it('group and channel reads are cached in Redis and every change invalidates them', async () => {
    const { group, channel, botId } = await seedBot(api);
    // Read twice: Redis keeps only what repeats.
    const first = await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() });
    await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() });
    for (let i = 0; i < 2; i++)
      expect((await api.call('GET', '/api/v1/groups?q=crypto', { auth: admin() })).body.total).toBe(1);
    expect(first.body.title).toBe(group.title);
    expect(first.body.channels).toEqual([]);
    const ttlKeys = await api.redis.redis.keys(`${api.redis.prefix}:api:cache:groups:*`);
    expect(ttlKeys.some((k) => !k.endsWith(':gen'))).toBe(true);
    const ttl = await api.redis.redis.ttl(ttlKeys.find((k) => !k.endsWith(':gen'))!);
    expect(ttl).toBeGreaterThan(250);
    expect(ttl).toBeLessThanOrEqual(300);

    // A write that bypasses the API is not seen until the cache is invalidated: the read really is cached.
    await api.ctx.db.protectedGroup.update({ where: { id: group.id }, data: { title: 'Renamed Behind The Back' } });
    expect((await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() })).body.title).toBe(group.title);
    expect((await api.call('GET', '/api/v1/groups?q=crypto', { auth: admin() })).body.total).toBe(1);

    // Verifiers reload the group within moments: the change is announced on the control channel.
    const sub = createRedis(api.redis.url);
    const messages: string[] = [];
    sub.on('message', (_c, m: string) => messages.push(m));
    await sub.subscribe(api.ctx.keys.key('control'));
    const patched = await api.call('PATCH', `/api/v1/groups/${group.id}`, {
      auth: admin(),
      body: { promptLifetimeSeconds: 600, language: 'ru' },
    });
    expect(patched.status, patched.text).toBe(200);
    const after = await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() });
    expect(after.body).toMatchObject({ title: 'Renamed Behind The Back', promptLifetimeSeconds: 600, language: 'ru' });
    expect((await api.call('GET', '/api/v1/groups?q=renamed', { auth: admin() })).body.total).toBe(1);
    expect((await api.call('GET', '/api/v1/groups?q=crypto', { auth: admin() })).body.total).toBe(0);
    await expect
      .poll(() => messages.map((m) => JSON.parse(m)))
      .toContainEqual({ type: 'group-changed', botId, chatId: String(group.chatId) });
    await sub.quit();

    // Linking a channel shows on both sides at once.
    for (let i = 0; i < 2; i++) await api.call('GET', `/api/v1/channels/${channel.id}`, { auth: admin() });
    const link = await api.call('POST', `/api/v1/groups/${group.id}/channels`, {
      auth: admin(),
      body: { channelId: channel.id },
    });
    expect(link.status, link.text).toBe(201);
    expect(
      (
        await api.call('POST', `/api/v1/groups/${group.id}/channels`, {
          auth: admin(),
          body: { channelId: channel.id },
        })
      ).status,
    ).toBe(409);
    expect(
      (await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() })).body.channels.map(
        (c: { id: number }) => c.id,
      ),
    ).toEqual([channel.id]);
    expect(
      (await api.call('GET', `/api/v1/channels/${channel.id}`, { auth: admin() })).body.groups.map(
        (g: { id: number }) => g.id,
      ),
    ).toEqual([group.id]);
    expect(
      (await api.call('DELETE', `/api/v1/groups/${group.id}/channels/${channel.id}`, { auth: admin() })).status,
    ).toBe(204);
    expect((await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() })).body.channels).toEqual([]);

    // Settings out of the CHECK constraints' bounds are a 400, not a database error.
    for (const body of [
      { promptLifetimeSeconds: 5 },
      { muteDurationSeconds: 10 },
      { language: 'eng' },
      { customPromptText: '   ' },
      { mode: 'ban' },
      { unknown: 1 },
    ]) {
      const res = await api.call('PATCH', `/api/v1/groups/${group.id}`, { auth: admin(), body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('a group shows the channels the bot cannot check, counts only restrictions that hold, and takes the channel-ban threshold', async () => {
    const { group, channel, botId } = await seedBot(api);
    await api.ctx.db.groupChannelLink.create({
      data: { groupId: group.id, channelId: channel.id, botInstanceId: botId },
    });
    await api.ctx.db.enforcedChannel.update({ where: { id: channel.id }, data: { botIsAdmin: false } });
    const past = new Date(Date.now() - 60_000);
    await api.ctx.db.restriction.createMany({
      data: [
        { botInstanceId: botId, groupId: group.id, userId: 501n },
        { botInstanceId: botId, groupId: group.id, userId: 502n, mutedUntil: new Date(Date.now() + 3_600_000) },
        // A timed mute past its end: Telegram has lifted it, whether or not its row is closed yet.
        {
          botInstanceId: botId,
          groupId: group.id,
          userId: 503n,
          mutedAt: new Date(Date.now() - 120_000),
          mutedUntil: past,
        },
        { botInstanceId: botId, groupId: group.id, userId: 504n, liftedAt: new Date(), liftReason: 'verified' },
      ],
    });
    const patched = await api.call('PATCH', `/api/v1/groups/${group.id}`, {
      auth: admin(),
      body: { senderChatBanAfter: 5 },
    });
    expect(patched.status, patched.text).toBe(200);
    const body = (await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() })).body;
    expect(body).toMatchObject({ uncheckableChannels: 1, openRestrictions: 2, senderChatBanAfter: 5 });
    expect(body.channels).toEqual([expect.objectContaining({ id: channel.id, botIsAdmin: false })]);
    expect(
      (await api.call('GET', `/api/v1/groups?bot_id=${botId}`, { auth: admin() })).body.items[0].senderChatBanAfter,
    ).toBe(5);
    for (const senderChatBanAfter of [-1, 101, 2.5]) {
      expect(
        (await api.call('PATCH', `/api/v1/groups/${group.id}`, { auth: admin(), body: { senderChatBanAfter } })).status,
      ).toBe(400);
    }
  });

  it('a channel linked later comes after the ones linked before it, whatever its id', async () => {
    const { group, channel, botId } = await seedBot(api);
    const newer = await api.ctx.db.enforcedChannel.create({
      data: { botInstanceId: botId, channelId: channel.channelId - 1n, title: 'Newer', username: `newer${channel.id}` },
    });
    for (const c of [newer, channel]) {
      const link = await api.call('POST', `/api/v1/groups/${group.id}/channels`, {
        auth: admin(),
        body: { channelId: c.id },
      });
      expect(link.status, link.text).toBe(201);
    }
    const listed = (await api.call('GET', `/api/v1/groups/${group.id}`, { auth: admin() })).body.channels;
    expect(listed.map((c: { id: number }) => c.id)).toEqual([newer.id, channel.id]);
  });

  it("unmute everyone enqueues lift-restrictions on the bot's queue, and disabling can do it too", async () => {
    const { group, botId } = await seedBot(api);
    const res = await api.call('POST', `/api/v1/groups/${group.id}/unmute-all`, {
      auth: admin(),
      body: { disable: true },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body.enabled).toBe(false);
    const queue = openQueue(updatesQueue(botId), { connection: createRedis(api.redis.url), prefix: api.redis.prefix });
    const job = await queue.getJob(res.body.jobId);
    expect(job?.name).toBe('lift-restrictions');
    expect(job?.data).toEqual({ botInstanceId: botId, groupId: group.id, reason: 'manual' });
    expect((await api.ctx.db.protectedGroup.findUniqueOrThrow({ where: { id: group.id } })).enabled).toBe(false);
    await api.ctx.db.protectedGroup.update({ where: { id: group.id }, data: { enabled: true } });
    const off = await api.call('PATCH', `/api/v1/groups/${group.id}`, { auth: admin(), body: { enabled: false } });
    expect(off.body.liftRestrictionsJobId).toBeTruthy();
    expect((await queue.getJob(off.body.liftRestrictionsJobId))?.data.reason).toBe('unprotected');
    await queue.close();
  });

  it('bots: create, duplicate, update, stop/start/restart, soft delete', async () => {
    const simBot = await api.sim.createBot({ username: 'lifecyclebot' });
    const created = await api.call('POST', '/api/v1/bots', { auth: admin(), body: { token: simBot.token } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('tokenEncrypted');
    expect((await api.call('POST', '/api/v1/bots', { auth: admin(), body: { token: simBot.token } })).status).toBe(409);
    const id = created.body.id;
    expect(
      (await api.call('PATCH', `/api/v1/bots/${id}`, { auth: admin(), body: { name: 'Renamed' } })).body.name,
    ).toBe('Renamed');
    expect((await api.call('POST', `/api/v1/bots/${id}/stop`, { auth: admin() })).body).toMatchObject({
      isActive: false,
      status: 'stopped',
    });
    expect((await api.call('POST', `/api/v1/bots/${id}/start`, { auth: admin() })).body).toMatchObject({
      isActive: true,
      status: 'starting',
    });
    expect((await api.call('POST', `/api/v1/bots/${id}/restart`, { auth: admin() })).body).toMatchObject({
      status: 'restarting',
    });
    const health = await api.call('GET', `/api/v1/bots/${id}/health`, { auth: { token: api.tokens.viewer } });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ botId: id, queue: { waiting: 0 } });
    const bb = await api.call('GET', '/admin/queues/api/queues', { auth: admin() });
    expect(bb.text).toContain(`updates-${id}`);
    expect((await api.call('DELETE', `/api/v1/bots/${id}`, { auth: admin() })).status).toBe(204);
    expect((await api.call('GET', `/api/v1/bots/${id}`, { auth: admin() })).status).toBe(404);
    // Bull Board follows: the deleted bot's queue disappears (the list refreshes every few seconds).
    await expect
      .poll(async () => (await api.call('GET', '/admin/queues/api/queues', { auth: admin() })).text, {
        timeout: 8_000,
        interval: 500,
      })
      .not.toContain(`updates-${id}`);
    // A deleted bot can be added again: its row (and history) is revived.
    const again = await api.call('POST', '/api/v1/bots', { auth: admin(), body: { token: simBot.token } });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(id);
  });

  it('every change wrote an audit row, with the actor and without secrets', async () => {
    const rows = await api.ctx.db.adminAuditLog.findMany({ orderBy: { id: 'asc' } });
    const actions = new Set(rows.map((r) => r.action));
    for (const action of [
      'bot.create',
      'bot.update',
      'bot.stop',
      'bot.start',
      'bot.restart',
      'bot.delete',
      'group.update',
      'group.unmute_all',
      'group.link_channel',
      'group.unlink_channel',
    ]) {
      expect(actions, action).toContain(action);
    }
    const adminToken = await api.ctx.db.apiToken.findFirstOrThrow({ where: { role: 'admin' } });
    for (const row of rows.filter((r) => r.action.startsWith('bot.') || r.action.startsWith('group.'))) {
      expect(row.actorTokenId).toBe(adminToken.id);
      expect(row.resourceId).toBeTruthy();
    }
    const update = rows.find((r) => r.action === 'group.update')!;
    expect(update.oldValues).toMatchObject({ promptLifetimeSeconds: 300, language: 'en' });
    expect(update.newValues).toMatchObject({ promptLifetimeSeconds: 600, language: 'ru' });
    expect(JSON.stringify(rows)).not.toMatch(/tokenEncrypted|passwordHash|\d{5,15}:[A-Za-z0-9_-]{30,}/);
    const viaApi = await api.call('GET', '/api/v1/audit-log?action=bot.create&limit=1', {
      auth: { token: api.tokens.admin },
    });
    expect(viaApi.body.items).toHaveLength(1);
    expect(viaApi.body.nextCursor).toBeTruthy();
    const next = await api.call('GET', `/api/v1/audit-log?action=bot.create&limit=1&cursor=${viaApi.body.nextCursor}`, {
      auth: { token: api.tokens.admin },
    });
    expect(next.body.items[0].id).toBeLessThan(viaApi.body.items[0].id);
  });

  it('verifications: filters and keyset cursor', async () => {
    const { botId, group } = await seedBot(api);
    await api.ctx.db.$executeRaw`
      INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, created_at)
      SELECT ${botId}, ${group.chatId}, 1000 + (i % 7), (ARRAY['verified','restricted','skipped'])[1 + i % 3], i, now() - make_interval(secs => i)
      FROM generate_series(1, 250) AS i`;
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const res: { body: { items: Array<{ id: string; status: string }>; nextCursor: string | null } } = await api.call(
        'GET',
        `/api/v1/verifications?bot_id=${botId}&status=verified&limit=30${cursor ? `&cursor=${cursor}` : ''}`,
        { auth: { token: api.tokens.viewer } },
      );
      seen.push(...res.body.items.map((i) => i.id));
      expect(res.body.items.every((i) => i.status === 'verified')).toBe(true);
      cursor = res.body.nextCursor;
    }
    expect(seen).toHaveLength(83);
    expect(new Set(seen).size).toBe(83);
    const byUser = await api.call('GET', `/api/v1/verifications?group_id=${group.id}&user_id=1003&limit=100`, {
      auth: { token: api.tokens.viewer },
    });
    expect(byUser.body.items.every((i: { userId: string }) => i.userId === '1003')).toBe(true);
    expect(byUser.body.items.length).toBeGreaterThan(30);
    // Pages asked for at once reach PostgreSQL together (one statement per combination of filters): each request
    // still gets exactly the page it would get alone.
    const statuses = ['verified', 'restricted', 'skipped'];
    const asks = [
      ...[...Array(21).keys()].map(
        (i) => `bot_id=${botId}&user_id=${1000 + (i % 7)}&status=${statuses[i % 3]}&limit=${3 + i}`,
      ),
      ...[...Array(6).keys()].map((i) => `group_id=${group.id}&limit=${10 + i}&cursor=${seen[i * 10]}`),
      `group_id=${group.id}&user_id=1003&limit=100`,
      `bot_id=${botId}&status=skipped&limit=5`,
    ].map((q) => `/api/v1/verifications?${q}`);
    const viewer = { auth: { token: api.tokens.viewer } };
    const together = await Promise.all(asks.map((path) => api.call('GET', path, viewer)));
    for (const [i, path] of asks.entries()) {
      const alone = await api.call('GET', path, viewer);
      expect(alone.body.items.length, path).toBeGreaterThan(0);
      expect(together[i]!.body, path).toEqual(alone.body);
    }
    expect(together[0]!.body.items.every((v: { userId: string }) => v.userId === '1000')).toBe(true);
    // PostgreSQL writes the page's JSON: text fields keep quotes, backslashes, control characters and non-ASCII.
    const errorType = 'said "hi" \\ to ünï\n\t👋';
    await api.ctx.db.$executeRaw`
      INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, cached, error_type, reason, created_at)
      VALUES (${botId}, ${group.chatId}, 4242, 'error', 17, true, ${errorType}, 'guard_timeout', '2026-01-02T03:04:05.006Z')`;
    const odd = await api.call('GET', `/api/v1/verifications?user_id=4242`, viewer);
    expect(odd.body.items).toEqual([
      expect.objectContaining({
        userId: '4242',
        botInstanceId: botId,
        chatId: String(group.chatId),
        status: 'error',
        latencyMs: 17,
        cached: true,
        errorType,
        reason: 'guard_timeout',
        createdAt: '2026-01-02T03:04:05.006Z',
      }),
    ]);
    const range = await api.call(
      'GET',
      `/api/v1/verifications?bot_id=${botId}&from=${new Date(Date.now() - 100_000).toISOString()}&limit=100`,
      { auth: { token: api.tokens.viewer } },
    );
    expect(range.body.items.length).toBeLessThan(101);
    expect(
      (
        await api.call('GET', `/api/v1/verifications?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, {
          auth: { token: api.tokens.viewer },
        })
      ).status,
    ).toBe(400);
  });
});
