import type { Message, Update } from 'telegraf/types';
import { isAdminStatus, isMember } from './membership';

/**
 * Service messages report something that happened (someone left, the title changed, a message was pinned);
 * they are not a user writing, so they are never grounds to mute anyone.
 */
const SERVICE_FIELDS = [
  'left_chat_member', 'new_chat_members', 'new_chat_title', 'new_chat_photo', 'delete_chat_photo', 'group_chat_created',
  'supergroup_chat_created', 'migrate_to_chat_id', 'migrate_from_chat_id', 'pinned_message', 'message_auto_delete_timer_changed',
  'video_chat_started', 'video_chat_ended', 'video_chat_scheduled', 'video_chat_participants_invited', 'forum_topic_created',
  'forum_topic_edited', 'forum_topic_closed', 'forum_topic_reopened', 'general_forum_topic_hidden', 'general_forum_topic_unhidden',
  'users_shared', 'chat_shared', 'write_access_allowed', 'proximity_alert_triggered', 'boost_added', 'chat_background_set',
];
export const isServiceMessage = (message: Message) => SERVICE_FIELDS.some((field) => field in message);

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
    if ('message' in update) return ACTED_ON_SERVICE_FIELDS.some((field) => field in update.message) || !isServiceMessage(update.message);
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
