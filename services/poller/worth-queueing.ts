import type { Update } from 'telegraf/types';
import { isMember } from '../core/telegram/membership';
import { isActionable } from '../../queues';

export type LeftOutReason = 'not_actionable' | 'join_signalled_twice';

/**
 * The updates of a batch that are worth a job, in order, and how many were left out, by reason. A job costs
 * several Redis round trips however little it does, and a leave from a group is two updates nobody acts on.
 */
export function worthQueueing(updates: readonly Update[]): { queued: Update[]; leftOut: Map<LeftOutReason, number> } {
  const redundant = redundantJoinMessages(updates);
  const leftOut = new Map<LeftOutReason, number>();
  const queued = updates.filter((update) => {
    const reason = redundant.has(update.update_id)
      ? 'join_signalled_twice'
      : isActionable(update)
        ? undefined
        : 'not_actionable';
    if (reason) leftOut.set(reason, (leftOut.get(reason) ?? 0) + 1);
    return !reason;
  });
  return { queued, leftOut };
}

/**
 * Telegram reports one join twice: a `chat_member` update and a `new_chat_members` service message (the
 * fallback for groups where chat_member is missing). When a batch holds both for every user the message
 * names, the message adds nothing: its job would only find the join already decided.
 */
export function redundantJoinMessages(updates: readonly Update[]): Set<number> {
  const joins = new Set<string>();
  for (const update of updates) {
    if (!('chat_member' in update)) continue;
    try {
      const { chat, date, old_chat_member: was, new_chat_member: is } = update.chat_member;
      if (isMember(was) || !isMember(is)) continue;
      // Both signals carry the join's time, a second apart at most when the clock ticked between them.
      for (const d of [date - 1, date, date + 1]) joins.add(`${chat.id}:${is.user.id}:${d}`);
    } catch {
      // Malformed: queued as it is, for the verifier to count.
    }
  }
  const redundant = new Set<number>();
  if (!joins.size) return redundant;
  for (const update of updates) {
    if (!('message' in update) || !update.message || !('new_chat_members' in update.message)) continue;
    const { chat, date, new_chat_members: users } = update.message;
    if (Array.isArray(users) && users.every((u) => u?.is_bot || joins.has(`${chat?.id}:${u?.id}:${date}`)))
      redundant.add(update.update_id);
  }
  return redundant;
}
