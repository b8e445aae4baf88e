import type { Message } from 'telegraf/types';

/**
 * Service messages report something that happened (someone left, the title changed, a message was pinned);
 * they are not a user writing, so they are never grounds to mute anyone.
 */
const SERVICE_FIELDS = [
  'left_chat_member',
  'new_chat_members',
  'new_chat_title',
  'new_chat_photo',
  'delete_chat_photo',
  'group_chat_created',
  'supergroup_chat_created',
  'migrate_to_chat_id',
  'migrate_from_chat_id',
  'pinned_message',
  'message_auto_delete_timer_changed',
  'video_chat_started',
  'video_chat_ended',
  'video_chat_scheduled',
  'video_chat_participants_invited',
  'forum_topic_created',
  'forum_topic_edited',
  'forum_topic_closed',
  'forum_topic_reopened',
  'general_forum_topic_hidden',
  'general_forum_topic_unhidden',
  'users_shared',
  'chat_shared',
  'write_access_allowed',
  'proximity_alert_triggered',
  'boost_added',
  'chat_background_set',
];
export const isServiceMessage = (message: Message) => SERVICE_FIELDS.some((field) => field in message);
