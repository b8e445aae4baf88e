import { describe, expect, it } from 'vitest';
import type { Update } from 'telegraf/types';
import { redundantJoinMessages, worthQueueing } from '../../services/poller/worth-queueing';

const GROUP: { id: number; type: string; title: string } = { id: -1001, type: 'supergroup', title: 'G' };
const user = (id: number, isBot = false) => ({ id, is_bot: isBot, first_name: `U${id}` });
let nextId = 1;

const chatMember = (userId: number, date: number, from = 'left', to = 'member', chat = GROUP): Update =>
  ({
    update_id: nextId++,
    chat_member: {
      chat,
      from: user(userId),
      date,
      old_chat_member: { status: from, user: user(userId) },
      new_chat_member: { status: to, user: user(userId) },
    },
  }) as unknown as Update;
const joinMessage = (userIds: number[], date: number, chat = GROUP, bots: number[] = []): Update =>
  ({
    update_id: nextId++,
    message: {
      message_id: nextId,
      chat,
      date,
      from: user(userIds[0]!),
      new_chat_members: [...userIds.map((id) => user(id)), ...bots.map((id) => user(id, true))],
    },
  }) as unknown as Update;
const ids = (updates: Update[]) => [...redundantJoinMessages(updates)];

describe('one join, two signals, one job', () => {
  it('leaves out the service message when chat_member reports the same join in the batch', () => {
    const message = joinMessage([7], 100);
    expect(ids([chatMember(7, 100), message])).toEqual([message.update_id]);
    // A second apart: the clock ticked between the two signals.
    const later = joinMessage([8], 101);
    expect(ids([chatMember(8, 100), later])).toEqual([later.update_id]);
    // Bots that came in alongside are never verified anyway.
    const withBot = joinMessage([9], 100, GROUP, [555]);
    expect(ids([chatMember(9, 100), withBot])).toEqual([withBot.update_id]);
  });

  it('keeps the message when anything in it is not covered', () => {
    expect(ids([joinMessage([7], 100)])).toEqual([]);
    expect(ids([chatMember(7, 100), joinMessage([7, 8], 100)])).toEqual([]); // 8 has no chat_member
    expect(ids([chatMember(7, 100), joinMessage([7], 102)])).toEqual([]); // a re-join of its own
    expect(ids([chatMember(7, 100), joinMessage([7], 100, { ...GROUP, id: -1002 })])).toEqual([]); // another group
    expect(ids([chatMember(7, 100, 'member', 'administrator'), joinMessage([7], 100)])).toEqual([]); // a promotion, not a join
    expect(ids([chatMember(7, 100, 'member', 'left'), joinMessage([7], 100)])).toEqual([]); // a leave
  });
});

describe('updates nobody acts on are not queued', () => {
  const leaveMessage = (userId: number): Update =>
    ({
      update_id: nextId++,
      message: { message_id: nextId, chat: GROUP, date: 100, from: user(userId), left_chat_member: user(userId) },
    }) as unknown as Update;
  const text = (userId: number, body: string): Update =>
    ({
      update_id: nextId++,
      message: { message_id: nextId, chat: GROUP, date: 100, from: user(userId), text: body },
    }) as unknown as Update;
  const reasons = (updates: Update[]) => Object.fromEntries(worthQueueing(updates).leftOut);

  it('leaves out a leave from a group (both its signals) and other service messages', () => {
    const leave = [chatMember(7, 100, 'member', 'left'), leaveMessage(7)];
    const { queued } = worthQueueing(leave);
    expect(queued).toEqual([]);
    expect(reasons(leave)).toEqual({ not_actionable: 2 });
    // An admin muting someone is not ours to act on either.
    expect(worthQueueing([chatMember(7, 100, 'member', 'restricted')]).queued).toEqual([]);
  });

  it('queues everything that can lead to an action, in order', () => {
    const CHANNEL = { id: -1009, type: 'channel' as const, title: 'C' };
    const updates = [
      text(7, 'hello'), // a message that may need the writer checked
      text(7, '/protect @c'),
      chatMember(8, 100), // a join
      chatMember(9, 100, 'member', 'administrator'), // the admin list changes
      chatMember(10, 100, 'member', 'left', CHANNEL), // a channel leave mutes again
      joinMessage([11], 100), // a join reported only by its service message
      {
        update_id: nextId++,
        message: {
          message_id: nextId,
          chat: { id: -5, type: 'group' },
          date: 100,
          from: user(7),
          migrate_to_chat_id: -1005,
        },
      } as unknown as Update, // the group moves
      {
        update_id: nextId++,
        message: {
          message_id: nextId,
          chat: { id: -1005, type: 'supergroup' },
          date: 100,
          from: user(7),
          migrate_from_chat_id: -5,
        },
      } as unknown as Update,
      { update_id: nextId++, callback_query: { id: 'q', from: user(7), data: 'v:7' } } as unknown as Update,
    ];
    expect(worthQueueing(updates).queued).toEqual(updates);
  });

  it('queues what it cannot read, for the verifier to count as malformed', () => {
    const broken = [
      { update_id: nextId++, message: null },
      { update_id: nextId++, chat_member: { chat: GROUP } },
      { update_id: nextId++, message: { new_chat_members: 'x', chat: GROUP, date: 1 } },
      { update_id: nextId++, something_new: {} },
    ] as unknown as Update[];
    const batch = [chatMember(7, 1), ...broken];
    expect(worthQueueing(batch).queued).toEqual(batch);
  });
});
