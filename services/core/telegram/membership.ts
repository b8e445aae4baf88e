import type { ChatMember, ChatPermissions } from 'telegraf/types';

/** The membership predicate: `restricted` counts only while the user is still in the chat. */
export function isMember(member: Pick<ChatMember, 'status'> & { is_member?: boolean }): boolean {
  return (
    member.status === 'creator' ||
    member.status === 'administrator' ||
    member.status === 'member' ||
    (member.status === 'restricted' && member.is_member === true)
  );
}

export const isAdminStatus = (status: string) => status === 'creator' || status === 'administrator';

/** Every ChatPermissions field of Bot API 6.5+ (restrictChatMember, ChatMemberRestricted). */
export const PERMISSION_KEYS = [
  'can_send_messages',
  'can_send_audios',
  'can_send_documents',
  'can_send_photos',
  'can_send_videos',
  'can_send_video_notes',
  'can_send_voice_notes',
  'can_send_polls',
  'can_send_other_messages',
  'can_add_web_page_previews',
  'can_change_info',
  'can_invite_users',
  'can_pin_messages',
  'can_manage_topics',
] as const satisfies ReadonlyArray<keyof ChatPermissions>;

export type FullPermissions = Record<(typeof PERMISSION_KEYS)[number], boolean>;

/** Every permission the same way. */
export function allPermissions(value: boolean): FullPermissions {
  return Object.fromEntries(PERMISSION_KEYS.map((key) => [key, value])) as FullPermissions;
}

/** The permissions a ChatMemberRestricted carries (its fields, all 14; a missing one is not granted). */
export function restrictedPermissions(member: object): FullPermissions {
  const fields = member as Record<string, unknown>;
  return Object.fromEntries(PERMISSION_KEYS.map((key) => [key, fields[key] === true])) as FullPermissions;
}

/**
 * Whether the user may write in the chat as Telegram describes them: what the channel check guards. A
 * restricted user who may not send messages (muted by an admin, or by us) has nothing left to enforce.
 */
export function maySendMessages(
  member: Pick<ChatMember, 'status'> & { is_member?: boolean; can_send_messages?: boolean },
): boolean {
  if (!isMember(member)) return false;
  return member.status !== 'restricted' || member.can_send_messages === true;
}
