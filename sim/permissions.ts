// ChatPermissions normalisation, including Telegram's legacy implication rules.
import { ADMIN_RIGHT_KEYS, PERMISSION_KEYS, type AdminRights, type ChatPermissions } from './types';

const MEDIA_KEYS = [
  'can_send_audios',
  'can_send_documents',
  'can_send_photos',
  'can_send_videos',
  'can_send_video_notes',
  'can_send_voice_notes',
] as const;

export function allPermissions(value: boolean): ChatPermissions {
  const out = {} as ChatPermissions;
  for (const key of PERMISSION_KEYS) out[key] = value;
  return out;
}

/** A new supergroup's defaults in Telegram: members may send everything and invite, not change info or pin. */
export function defaultGroupPermissions(): ChatPermissions {
  return { ...allPermissions(true), can_change_info: false, can_pin_messages: false, can_manage_topics: false };
}

/**
 * Turns a client's `permissions` object into the full 14-field set Telegram stores.
 * Missing fields are false (Telegram treats an omitted permission as "not granted").
 * The legacy `can_send_media_messages` field sets all six media permissions.
 * With `independent` false (Telegram's default for use_independent_chat_permissions), Telegram applies
 * implications: can_send_other_messages or can_add_web_page_previews grant can_send_messages and all media;
 * can_send_polls grants can_send_messages; any media permission grants can_send_messages.
 */
export function normalizePermissions(input: Record<string, unknown>, independent: boolean): ChatPermissions {
  const out = allPermissions(false);
  for (const key of PERMISSION_KEYS) out[key] = input[key] === true;
  if (input.can_send_media_messages === true) for (const key of MEDIA_KEYS) out[key] = true;
  if (!independent) {
    if (out.can_send_other_messages || out.can_add_web_page_previews) {
      out.can_send_messages = true;
      for (const key of MEDIA_KEYS) out[key] = true;
    }
    if (out.can_send_polls) out.can_send_messages = true;
    if (MEDIA_KEYS.some((key) => out[key])) out.can_send_messages = true;
  }
  return out;
}

/**
 * Telegram's rule for when a restriction is no restriction: only a set that grants every permission. The Bot
 * API says "Pass True for all permissions to lift restrictions from a user" (restrictChatMember), and TDLib's
 * DialogParticipantStatus::Restricted (td/telegram/DialogParticipant.cpp) returns Member (or Left, when the
 * user is not in the chat) only when the flags equal ALL_RESTRICTED_RIGHTS. A set equal to the chat's default
 * permissions is still a restriction: the user stays `restricted`.
 */
export function grantsEverything(permissions: ChatPermissions): boolean {
  return PERMISSION_KEYS.every((key) => permissions[key]);
}

/** A restricted user can never have more than the chat's defaults allow. */
export function intersectPermissions(a: ChatPermissions, b: ChatPermissions): ChatPermissions {
  const out = {} as ChatPermissions;
  for (const key of PERMISSION_KEYS) out[key] = a[key] && b[key];
  return out;
}

export function samePermissions(a: ChatPermissions, b: ChatPermissions): boolean {
  for (const key of PERMISSION_KEYS) if (a[key] !== b[key]) return false;
  return true;
}

/** Full admin rights for chat type; missing input fields are false, except what the caller gives. */
export function normalizeAdminRights(input: Record<string, unknown>, chatType: string): AdminRights {
  const out = {} as AdminRights;
  for (const key of ADMIN_RIGHT_KEYS) out[key] = input[key] === true;
  // Telegram: any admin right implies can_manage_chat.
  out.can_manage_chat = true;
  if (chatType === 'channel') {
    out.can_pin_messages = false;
    out.can_manage_topics = false;
  } else {
    out.can_post_messages = false;
    out.can_edit_messages = false;
  }
  return out;
}

export function adminRightsForOutput(rights: AdminRights, chatType: string): Partial<AdminRights> {
  const out: Partial<AdminRights> = { ...rights };
  if (chatType === 'channel') {
    delete out.can_pin_messages;
    delete out.can_manage_topics;
  } else {
    delete out.can_post_messages;
    delete out.can_edit_messages;
    if (chatType !== 'supergroup') delete out.can_manage_topics;
  }
  return out;
}
