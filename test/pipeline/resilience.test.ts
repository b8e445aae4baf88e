import { describe, expect, it } from 'vitest';
import { addJobs, pageJobId, updateJobId } from '../../queues';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, promptsFor, settled, waitMuted, waitPrompt, type Bot } from './helpers';

const platform = usePlatform();

const IN_FLIGHT_MS = 50;

const skippedCount = async (bot: Bot, reason: string) => {
  const metric = await platform.ctx.metrics.registry.getSingleMetric('nezuko_updates_skipped_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason && v.labels.bot === String(bot.instanceId))?.value ?? 0;
};

/**
 * Joins `subscribed` + `unsubscribed` users to a protected group and waits until every one is decided:
 * subscribers verified, the others muted with exactly one prompt and one open restriction.
 */
async function joinAndDecide(bot: Bot, subscribed: number, unsubscribed: number, timeoutMs = 25_000) {
  const { client } = platform;
  const { group, channels } = await protectedGroup(platform, bot, 1);
  const fans = await Promise.all(
    Array.from({ length: subscribed }, (_, i) => client.createUser({ firstName: `Fan${i}` })),
  );
  const others = await Promise.all(
    Array.from({ length: unsubscribed }, (_, i) => client.createUser({ firstName: `Other${i}` })),
  );
  for (const u of fans) await client.join(channels[0]!.id, u.id);
  return {
    group,
    channels,
    fans,
    others,
    decide: async () => {
      for (const u of [...fans, ...others]) await client.join(group.id, u.id);
      for (const u of others) {
        await waitMuted(platform, group.id, u.id, timeoutMs);
        await waitPrompt(platform, group.id, u.id, timeoutMs);
      }
      for (const u of fans)
        expect((await logRows(platform, group.id, u.id, 1)).map((r) => r.status)).toEqual(['verified']);
      await settled(platform, bot, timeoutMs);
      for (const u of others) {
        expect(await promptsFor(platform, group.id, u.id)).toHaveLength(1);
        expect((await logRows(platform, group.id, u.id, 1)).map((r) => r.status)).toEqual(['restricted']);
        expect(await platform.ctx.db.restriction.count({ where: { userId: BigInt(u.id), liftedAt: null } })).toBe(1);
      }
      for (const u of fans) expect((await client.member(group.id, u.id)).status).toBe('member');
    },
  };
}

describe('Telegram failing', () => {
  it('hands an update that must wait off as a delayed job of its own, with its reason, and finishes its page', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await protectedGroup(platform, bot, 1);
    const queue = platform.queue(bot.instanceId);
    // Longer than a verifier waits in process: the mute's update must wait, and the bot with it (a cooldown).
    await client.addFaults(bot.id, [{ kind: 'retry_after', method: 'restrictChatMember', count: 1, retryAfter: 3 }]);
    const user = await client.createUser({ firstName: 'Waits' });
    await client.join(group.id, user.id);
    const waiting = await waitFor(
      async () =>
        (await queue.getDelayed()).find(
          (j) => j.name === 'update' && JSON.stringify(j.data.update).includes(`"id":${user.id}`),
        ),
      15_000,
      'the waiting update as a job of its own',
    );
    // What Bull Board shows for it: why it waits.
    expect(waiting!.data.waiting).toMatch(/^rate_limited: /);
    // Its page did not wait for it.
    const pages = (await queue.getJobs(['completed', 'active', 'waiting', 'delayed'])).filter(
      (j) => j.name === 'page' && JSON.stringify(j.data.updates).includes(`"id":${user.id}`),
    );
    expect(pages.length).toBeGreaterThan(0);
    for (const page of pages) expect(await page.getState()).toBe('completed');
    // Once retry_after ran out, the update is decided from the step it reached: muted once, prompted once.
    await waitMuted(platform, group.id, user.id, 20_000);
    await waitPrompt(platform, group.id, user.id, 20_000);
    await settled(platform, bot);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    const { calls } = await client.calls(bot.id, { method: 'restrictChatMember' });
    expect(calls.filter((c) => c.params.user_id === user.id && c.outcome === 'ok')).toHaveLength(1);
  }, 40_000);

  it('decides everyone through a 429 storm, never calling before retry_after ran out', async () => {
    const bot = await platform.addBot();
    const scene = await joinAndDecide(bot, 2, 4);
    await platform.client.clearCalls(bot.id);
    await platform.client.addFaults(bot.id, [
      // One long wait for sure (the job is handed back delayed), then short ones at random (waited out in process).
      { kind: 'retry_after', method: 'restrictChatMember', count: 1, retryAfter: 2 },
      { kind: 'retry_after', method: 'sendMessage', probability: 0.25, retryAfter: 1 },
      { kind: 'retry_after', method: 'restrictChatMember', probability: 0.15, retryAfter: 1 },
      { kind: 'retry_after', method: 'getChatMember', probability: 0.1, retryAfter: 1 },
    ]);
    await scene.decide();

    const { calls, counters } = await platform.client.calls(bot.id);
    expect(counters.tooManyRequests429).toBeGreaterThan(0);
    // getUpdates long-polls on its own connection and is not a call the flood limit applies to.
    const api = calls.filter((c) => c.method !== 'getUpdates');
    for (const limited of api.filter((c) => c.errorCode === 429)) {
      const until = limited.at + limited.retryAfter! * 1000;
      // Requests already on the wire when the 429 was answered (concurrent jobs) reach Telegram within a
      // few ms of it; none may leave after the client has seen it.
      const early = api.filter((c) => c.seq > limited.seq && c.at > limited.at + IN_FLIGHT_MS && c.at < until);
      expect(early, `calls within retry_after ${limited.retryAfter} s of 429 #${limited.seq}`).toEqual([]);
    }
  }, 40_000);

  it('waits out a 429 on getUpdates before polling again', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const user = await client.createUser({ firstName: 'Poll' });
    await client.sendPrivateMessage(bot.id, user.id, 'first');
    await waitFor(
      async () => (await client.pendingUpdates(bot.id)).updates.length === 0,
      10_000,
      'the bot to be polled',
    );
    await client.addFaults(bot.id, [{ kind: 'retry_after', method: 'getUpdates', count: 1, retryAfter: 3 }]);
    // Ends the long poll in flight: the next getUpdates is answered 429, retry after 3 s.
    await client.sendPrivateMessage(bot.id, user.id, 'second');
    await waitFor(
      async () => (await client.calls(bot.id, { method: 'getUpdates' })).calls.some((c) => c.errorCode === 429),
      10_000,
      'the 429',
    );
    // The call log lists a call once it is answered: a third update ends the next (long) poll.
    await client.sendPrivateMessage(bot.id, user.id, 'third');
    const polls = (await waitFor(
      async () => {
        const { calls } = await client.calls(bot.id, { method: 'getUpdates' });
        const limited = calls.findIndex((c) => c.errorCode === 429);
        return limited >= 0 && calls.length > limited + 1 ? calls : undefined;
      },
      15_000,
      'a poll after the 429',
    ))!;
    const limited = polls.findIndex((c) => c.errorCode === 429);
    const next = polls[limited + 1]!;
    // The poller sleeps by the wall clock from when it read the answer, which is after the simulator sent it.
    expect(next.at - polls[limited]!.at).toBeGreaterThanOrEqual(3_000);
  });

  it('decides everyone through a 5xx storm', async () => {
    const bot = await platform.addBot();
    // Five failed attempts in a row, which the storm can make, open the bot's breaker for 30 s, and its probe may
    // fail too (forced, the last decision came 34 s in, or 64 s when the probe met one of the storm's 502s).
    const scene = await joinAndDecide(bot, 3, 5, 75_000);
    await platform.client.addFaults(
      bot.id,
      ['getChatMember', 'restrictChatMember', 'sendMessage', 'getChatAdministrators'].flatMap((method) => [
        { kind: 'server_error' as const, method, probability: 0.2, count: 3, status: 502 },
        { kind: 'html_error' as const, method, probability: 0.1, count: 2, status: 503 },
      ]),
    );
    await scene.decide();
    const { counters } = await platform.client.calls(bot.id);
    expect(counters.faults).toBeGreaterThan(0);
  }, 120_000);

  it("sends the prompt on the job's retry when every in-process attempt to send it failed", async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await protectedGroup(platform, bot, 1);
    // Three 502s in a row on the prompt: the call's own retries give up and the job is retried later.
    await client.addFaults(bot.id, [{ kind: 'server_error', method: 'sendMessage', count: 3 }]);
    const user = await client.createUser({ firstName: 'Unlucky' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id, 20_000);
    await settled(platform, bot);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    const restriction = await platform.ctx.db.restriction.findFirstOrThrow({
      where: { userId: BigInt(user.id), liftedAt: null },
    });
    expect(restriction.promptMessageId).not.toBeNull();
  }, 30_000);
});

describe('delivery', () => {
  it('acts once when updates are delivered again (crash between addBulk and the offset advance)', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Twice' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await settled(platform, bot);

    // The page as the poller queued it; a poller that crashed before confirming gets it again from Telegram.
    const queue = platform.queue(bot.instanceId);
    const pages = (await queue.getCompleted()).filter(
      (j) => j.name === 'page' && JSON.stringify(j.data.updates).includes(`"id":${user.id}`),
    );
    expect(pages).toHaveLength(1);
    const page = pages[0]!;
    const mine = (page.data.updates as Array<Record<string, unknown>>).filter((u) =>
      JSON.stringify(u).includes(`"id":${user.id}`),
    );
    // chat_member; its new_chat_members message came in the same batch and was left out of the queue.
    expect(mine.map((u) => Object.keys(u).find((k) => k !== 'update_id'))).toEqual(['chat_member']);
    const ids = (page.data.updates as Array<{ update_id: number }>).map((u) => u.update_id);
    // Delivered again as it was: the same job id, dropped by BullMQ.
    const [same] = await addJobs(queue, [
      { name: 'page', data: page.data, opts: { jobId: pageJobId(bot.instanceId, ids) } },
    ]);
    expect(same!.id).toBe(page.id);
    // Cut differently (a new job id), or handed off as an update job of its own: the update's done marker
    // stops it; nor does the join's service message act, as a poller gets it when a batch boundary falls
    // between the two.
    const joinUpdate = mine[0] as { update_id: number; chat_member: { chat: unknown; date: number } };
    const { chat, date } = joinUpdate.chat_member;
    const from = { id: user.id, is_bot: false, first_name: 'Twice' };
    const serviceMessage = {
      update_id: 987_654,
      message: { message_id: 987_654, chat, date, from, new_chat_members: [from] },
    };
    const receivedAt = Date.now();
    const again = await addJobs(queue, [
      {
        name: 'page',
        data: { botInstanceId: bot.instanceId, updates: [joinUpdate, serviceMessage], receivedAt },
        opts: { jobId: pageJobId(bot.instanceId, [joinUpdate.update_id, serviceMessage.update_id]) },
      },
      {
        name: 'update',
        data: { botInstanceId: bot.instanceId, update: joinUpdate, receivedAt, waiting: 'test' },
        opts: { jobId: updateJobId(bot.instanceId, joinUpdate.update_id) },
      },
    ]);
    await waitFor(
      async () => (await Promise.all(again.map((j) => queue.getJobState(j.id!)))).every((s) => s === 'completed'),
      10_000,
      'the re-delivered jobs',
    );
    await settled(platform, bot);

    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    expect(await platform.ctx.db.restriction.count({ where: { userId: BigInt(user.id) } })).toBe(1);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    const { calls } = await client.calls(bot.id, { method: 'restrictChatMember' });
    expect(calls.filter((c) => c.params.user_id === user.id && c.outcome === 'ok')).toHaveLength(1);
  });

  it('skips and counts the malformed updates of a page, and decides the rest of it', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await protectedGroup(platform, bot, 1);
    const queue = platform.queue(bot.instanceId);
    const user = await client.createUser({ firstName: 'AmongGarbage' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await settled(platform, bot);
    // The user's join as the poller queued it, now in a page with garbage around it and a second join
    // of another user that no page has seen yet.
    const [page] = (await queue.getCompleted()).filter(
      (j) => j.name === 'page' && JSON.stringify(j.data.updates).includes(`"id":${user.id}`),
    );
    const join = (page!.data.updates as Array<Record<string, unknown>>).find((u) => 'chat_member' in u)!;
    const other = await client.createUser({ firstName: 'Second' });
    const otherJoin = JSON.parse(JSON.stringify(join).replaceAll(`"id":${user.id}`, `"id":${other.id}`));
    otherJoin.update_id = 955_001;
    const before = await skippedCount(bot, 'malformed');
    const updates = [
      'not an update',
      { update_id: 'x' },
      { update_id: 955_002, message: { chat: 'nope', message_id: -1 } },
      join,
      null,
      otherJoin,
    ];
    const [added] = await addJobs(queue, [
      {
        name: 'page',
        data: { botInstanceId: bot.instanceId, updates, receivedAt: Date.now() },
        opts: { jobId: 'page-with-garbage', attempts: 3 },
      },
    ]);
    await waitFor(async () => (await queue.getJobState(added!.id!)) === 'completed', 10_000, 'the page');
    expect((await queue.getJob(added!.id!))!.attemptsMade).toBeLessThanOrEqual(1);
    expect((await skippedCount(bot, 'malformed')) - before).toBe(4);
    // The other user's join (never in the simulator's group, so Telegram answers about a stranger) is decided;
    // the first user's join, already decided, is not decided again.
    await waitFor(
      async () =>
        (await platform.ctx.db.verificationLog.count({ where: { userId: BigInt(other.id) } })) > 0 || undefined,
      10_000,
      'a decision about the second user',
    );
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
  });

  it('completes and counts malformed jobs, and keeps working', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await protectedGroup(platform, bot, 1);
    const queue = platform.queue(bot.instanceId);
    const receivedAt = Date.now();
    const garbage: Array<[string, string, unknown]> = [
      ['malformed', 'update', { foo: 1 }],
      ['malformed', 'update', { botInstanceId: bot.instanceId, update: { update_id: 'x' }, receivedAt }],
      [
        'malformed',
        'update',
        {
          botInstanceId: bot.instanceId,
          update: { update_id: 900001, message: { chat: 'nope', message_id: -1 } },
          receivedAt,
        },
      ],
      [
        'malformed',
        'update',
        {
          botInstanceId: bot.instanceId,
          update: {
            update_id: 900002,
            chat_member: { chat: { id: group.id, type: 'supergroup' }, new_chat_member: null },
          },
          receivedAt,
        },
      ],
      [
        'malformed',
        'update',
        {
          botInstanceId: bot.instanceId,
          update: {
            update_id: 900003,
            callback_query: { id: 'q', from: { id: 1, is_bot: false, first_name: 'x' }, data: 'v:'.padEnd(200, '9') },
          },
          receivedAt,
        },
      ],
      [
        'unhandled_type',
        'update',
        { botInstanceId: bot.instanceId, update: { update_id: 900004, edited_channel_post: {} }, receivedAt },
      ],
      ['wrong_bot', 'update', { botInstanceId: bot.instanceId + 1000, update: { update_id: 900005 }, receivedAt }],
      ['unknown_job', 'no-such-job', { botInstanceId: bot.instanceId }],
      ['malformed', 'delete-prompt', { botInstanceId: bot.instanceId, chatId: group.id, messageId: 'first' }],
    ];
    const reasons = [...new Set(garbage.map(([reason]) => reason))];
    const before = Object.fromEntries(
      await Promise.all(reasons.map(async (r) => [r, await skippedCount(bot, r)] as const)),
    );
    // Not what the contract allows: added the way a broken or hostile producer would.
    const jobs = await Promise.all(
      garbage.map(([, name, data], i) =>
        queue.add(name, data, { jobId: `garbage-${bot.instanceId}-${i}`, attempts: 3 }),
      ),
    );
    await waitFor(
      async () => (await Promise.all(jobs.map((j) => queue.getJobState(j.id!)))).every((s) => s === 'completed'),
      10_000,
      'every garbage job to complete',
    );
    for (const j of jobs) expect((await queue.getJob(j.id!))!.attemptsMade).toBeLessThanOrEqual(1);
    for (const reason of reasons) {
      const expected = garbage.filter(([r]) => r === reason).length;
      expect((await skippedCount(bot, reason)) - before[reason]!, reason).toBe(expected);
    }

    const user = await client.createUser({ firstName: 'After' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
  });
});
