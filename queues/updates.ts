import type { Update } from 'telegraf/types';
import { isAdminStatus, isMember } from '../services/core/telegram/membership';
import { isServiceMessage } from '../services/core/telegram/updates';

/**
 * Which Telegram updates the poller hands the verifier: the kinds the verifier handles (getUpdates'
 * `allowed_updates`; `chat_member` must be asked for explicitly, Telegram leaves it out by default), and
 * among those, only updates that can lead to an action.
 */
export const ALLOWED_UPDATES = [
  'message',
  'callback_query',
  'chat_member',
  'my_chat_member',
  'chat_join_request',
] as const;

/** Service messages something is done about: a join's fallback signal, and a group's upgrade to a supergroup. */
const ACTED_ON_SERVICE_FIELDS = ['new_chat_members', 'migrate_to_chat_id', 'migrate_from_chat_id'];

/**
 * Whether an update can lead to any action at all. Not: service messages other than those above, and
 * chat_member changes in a group that are neither a join nor an admin change (someone left, an admin muted
 * someone). Every leave from a group is two such updates. Anything this cannot read is actionable, so that
 * the verifier validates it and counts it as malformed.
 */
export function isActionable(update: Update): boolean {
  try {
    if ('message' in update)
      return ACTED_ON_SERVICE_FIELDS.some((field) => field in update.message) || !isServiceMessage(update.message);
    if ('chat_member' in update) {
      const { chat, old_chat_member: was, new_chat_member: is } = update.chat_member;
      if (chat.type === 'channel') return true;
      return isAdminStatus(was.status) || isAdminStatus(is.status) || (!isMember(was) && isMember(is));
    }
    return true;
  } catch {
    return true;
  }
}
