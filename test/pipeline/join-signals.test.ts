import { describe, expect, it } from 'vitest';
import type { Update } from 'telegraf/types';
import { redundantJoinMessages } from '../../services/poller/join-signals';

const GROUP = { id: -1001, type: 'supergroup' as const, title: 'G' };
const user = (id: number, isBot = false) => ({ id, is_bot: isBot, first_name: `U${id}` });
let nextId = 1;

const chatMember = (userId: number, date: number, from = 'left', to = 'member', chat = GROUP): Update =>
  ({
    update_id: nextId++,
    chat_member: { chat, from: user(userId), date, old_chat_member: { status: from, user: user(userId) }, new_chat_member: { status: to, user: user(userId) } },
  }) as unknown as Update;
const joinMessage = (userIds: number[], date: number, chat = GROUP, bots: number[] = []): Update =>
  ({
    update_id: nextId++,
    message: { message_id: nextId, chat, date, from: user(userIds[0]!), new_chat_members: [...userIds.map((id) => user(id)), ...bots.map((id) => user(id, true))] },
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
