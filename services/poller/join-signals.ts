import type { Update } from 'telegraf/types';
import { isMember } from '../core/telegram/membership';

/**
 * Telegram reports one join twice: a `chat_member` update and a `new_chat_members` service message (the
 * fallback for groups where chat_member is missing). When a batch holds both for every user the message
 * names, the message adds nothing, and leaving it out spares the verifier a whole job that would only find
 * the join already decided. Returns the update ids to leave out; the rest keep their order.
 */
export function redundantJoinMessages(updates: readonly Update[]): Set<number> {
  const joins = new Set<string>();
  for (const update of updates) {
    if (!('chat_member' in update)) continue;
    const { chat, date, old_chat_member: was, new_chat_member: is } = update.chat_member;
    if (isMember(was) || !isMember(is)) continue;
    // Both signals carry the join's time, a second apart at most when the clock ticked between them.
    for (const d of [date - 1, date, date + 1]) joins.add(`${chat.id}:${is.user.id}:${d}`);
  }
  const redundant = new Set<number>();
  if (!joins.size) return redundant;
  for (const update of updates) {
    if (!('message' in update) || !('new_chat_members' in update.message)) continue;
    const { chat, date, new_chat_members: users } = update.message;
    if (users.every((u) => u.is_bot || joins.has(`${chat.id}:${u.id}:${date}`))) redundant.add(update.update_id);
  }
  return redundant;
}
