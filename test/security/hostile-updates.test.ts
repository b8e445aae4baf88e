import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { drained, metricSum, protectGroups, useChaosDeployment } from '../chaos/helpers';

const d = useChaosDeployment();

const user = (id: number) => ({ id, is_bot: false, first_name: 'Eve' });

// test/pipeline/resilience.test.ts checks malformed jobs in-process; here a real verifier process gets the
// hostile updates (as a compromised or buggy producer would queue them) and its own /metrics and log are read.
describe('security: hostile updates to the workers', () => {
  it(
    'are skipped with a log line and counted in nezuko_updates_skipped_total; nothing crashes',
    { timeout: 60_000 },
    async () => {
      const bot = await d.addBot();
      const metricsPort = await freePort();
      d.spawn('poller');
      const verifier = d.spawn('verifier', { METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn' });
      const scene = await protectGroups(d, bot, 1);
      const chatId = scene.groups[0]!.id;
      const chat = { id: chatId, type: 'supergroup', title: 'x' };
      const receivedAt = Date.now();
      const huge = 'A'.repeat(1_000_000);
      const hostile: Array<[reason: string, update: Record<string, unknown>]> = [
        ['unhandled_type', { update_id: 9001 }],
        ['unhandled_type', { update_id: 9002, poll: { id: 'p', question: 'q' } }],
        ['unhandled_type', { update_id: 9003, edited_channel_post: { text: huge } }],
        ['malformed', { update_id: 9004, message: { message_id: 1, date: 1 } }], // no chat
        ['malformed', { update_id: 9005, message: { message_id: 'one', date: 1, chat } }],
        [
          'malformed',
          { update_id: 9006, message: { message_id: 2, date: 1, chat: { id: 'abc', type: 'supergroup' } } },
        ],
        ['malformed', { update_id: 9007, message: { message_id: 3, date: 1, chat, from: user(1), text: huge } }],
        [
          'malformed',
          {
            update_id: 9008,
            message: {
              message_id: 4,
              date: 1,
              chat,
              new_chat_members: Array.from({ length: 5_000 }, (_, i) => user(i + 1)),
            },
          },
        ],
        [
          'malformed',
          {
            update_id: 9009,
            chat_member: {
              chat,
              from: user(1),
              date: 1,
              old_chat_member: { status: 'left', user: user(1) },
              new_chat_member: { status: 'emperor', user: user(1) },
            },
          },
        ],
        [
          'malformed',
          {
            update_id: 9010,
            chat_member: {
              chat,
              from: { id: -5, is_bot: false, first_name: 'x' },
              date: 1,
              old_chat_member: null,
              new_chat_member: null,
            },
          },
        ],
        ['malformed', { update_id: 9011, callback_query: { id: 'q1', from: user(1), data: 'v:'.padEnd(5_000, '9') } }],
        ['malformed', { update_id: 9012, callback_query: { id: 'q2', from: 'root', data: 'v:1' } }],
        [
          'forged_callback',
          {
            update_id: 9013,
            callback_query: {
              id: 'q3',
              from: user(1),
              data: "x'; DROP TABLE restrictions; --",
              message: { message_id: 5, date: 1, chat },
            },
          },
        ],
        [
          'forged_callback',
          {
            update_id: 9014,
            callback_query: {
              id: 'q4',
              from: user(1),
              data: '../../etc/passwd',
              message: { message_id: 6, date: 1, chat },
            },
          },
        ],
        [
          'unknown_group',
          {
            update_id: 9015,
            callback_query: {
              id: 'q5',
              from: user(1),
              data: 'v:1',
              message: { message_id: 7, date: 1, chat: { id: -100999, type: 'supergroup' } },
            },
          },
        ],
        [
          'malformed',
          {
            update_id: 9016,
            __proto__: { polluted: true },
            message: { constructor: { prototype: { polluted: true } } },
          },
        ],
      ];
      const reasons = [...new Set(hostile.map(([r]) => r))];
      const before = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const queue = d.queue(bot.instanceId);
      await queue.addBulk(
        hostile.map(([, update], i) => ({
          name: 'update',
          data: { botInstanceId: bot.instanceId, update, receivedAt },
          opts: { jobId: `hostile-${i}` },
        })),
      );
      // Jobs that are not even shaped like a job.
      const extra: Array<[string, string, unknown]> = [
        ['unknown_job', 'rm -rf', { botInstanceId: bot.instanceId }],
        ['malformed', 'update', 'not an object'],
        ['malformed', 'update', { botInstanceId: String(bot.instanceId), update: {} }],
        ['wrong_bot', 'update', { botInstanceId: bot.instanceId + 77, update: { update_id: 9100 }, receivedAt }],
      ];
      await queue.addBulk(extra.map(([, name, data], i) => ({ name, data, opts: { jobId: `hostile-x-${i}` } })));
      const all = [...hostile.map(([r]) => r), ...extra.map(([r]) => r)];
      await waitFor(
        async () =>
          (
            await Promise.all(
              all.map((_, i) =>
                queue.getJobState(i < hostile.length ? `hostile-${i}` : `hostile-x-${i - hostile.length}`),
              ),
            )
          ).every((s) => s === 'completed'),
        20_000,
        'every hostile job to complete',
      );

      // A callback from another user: Bob presses the button bound to Alice.
      const [alice, bob] = [
        await d.client.createUser({ firstName: 'Alice' }),
        await d.client.createUser({ firstName: 'Bob' }),
      ];
      await d.client.join(chatId, alice.id);
      const prompt = await waitFor(
        async () =>
          (await d.client.messages(chatId)).messages.find((m) =>
            JSON.stringify(m.reply_markup ?? {}).includes(`"v:${alice.id}"`),
          ),
        15_000,
        "Alice's prompt",
      );
      const { callbackQueryId } = await d.client.pressButton(chatId, prompt!.message_id, bob.id, `v:${alice.id}`);
      const answer = await waitFor(
        async () => {
          const q = await d.client.callbackQuery(callbackQueryId);
          return q.answered ? q : undefined;
        },
        10_000,
        'the answer to Bob',
      );
      await drained(d, bot, 15_000);
      const aliceState = await d.client.member(chatId, alice.id);
      const bobState = await d.client.member(chatId, bob.id);

      const after = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const counted = Object.fromEntries(
        reasons
          .concat(['unknown_job', 'wrong_bot'])
          .map((r) => [
            r,
            metricSum(after, 'nezuko_updates_skipped_total', `reason="${r}"`) -
              metricSum(before, 'nezuko_updates_skipped_total', `reason="${r}"`),
          ]),
      );
      const skipLines = verifier
        .output()
        .split('\n')
        .filter((l) => l.includes('job skipped')).length;
      console.log(
        `[security:hostile-updates] jobs=${all.length} skippedByReason=${JSON.stringify(counted)} skipLogLines=${skipLines} otherUsersButton="${answer!.answer?.text}" aliceStatus=${aliceState.status} bobStatus=${bobState.status} verifierAlive=${verifier.child.exitCode === null}`,
      );
      for (const reason of new Set(all)) expect(counted[reason], reason).toBe(all.filter((r) => r === reason).length);
      expect(skipLines).toBeGreaterThanOrEqual(all.length);
      expect(verifier.output()).not.toMatch(
        /AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA{1000}/,
      ); // no huge text echoed
      expect(answer!.answer?.text).toBeTruthy();
      expect(aliceState.status).toBe('restricted'); // not unmuted by someone else's press
      expect(bobState.status).toBe('left');
      expect(verifier.child.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status).toBe(200);
    },
  );
});
