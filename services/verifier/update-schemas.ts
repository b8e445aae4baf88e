import { z } from 'zod';
import type { ALLOWED_UPDATES } from '../../queues';

/**
 * The parts of Telegram's updates the handlers rely on, checked before any handler runs; unknown extra
 * fields pass through. A hostile or broken update fails here and is skipped with a reason.
 */
const id = z.number().int();
const user = z.looseObject({ id: id.positive(), is_bot: z.boolean(), first_name: z.string().max(1024) });
const chat = z.looseObject({ id, type: z.enum(['private', 'group', 'supergroup', 'channel']) });
const chatMember = z.looseObject({
  status: z.enum(['creator', 'administrator', 'member', 'restricted', 'left', 'kicked']),
  user,
});

const message = z.looseObject({
  message_id: id.positive(),
  date: id,
  chat,
  from: user.optional(),
  text: z.string().max(8192).optional(),
  new_chat_members: z.array(user).max(200).optional(),
  migrate_to_chat_id: id.optional(),
  migrate_from_chat_id: id.optional(),
  message_thread_id: id.optional(),
});

export const updateSchemas = {
  message,
  callback_query: z.looseObject({
    id: z.string().min(1).max(256),
    from: user,
    data: z.string().max(64).optional(),
    // A press on an ephemeral message (Bot API 10.2): its message_id is 0, ephemeral_message_id names it.
    message: message
      .extend({ message_id: id.nonnegative(), ephemeral_message_id: id.positive().optional() })
      .optional(),
  }),
  chat_member: z.looseObject({ chat, from: user, date: id, old_chat_member: chatMember, new_chat_member: chatMember }),
  my_chat_member: z.looseObject({
    chat,
    from: user,
    date: id,
    old_chat_member: chatMember,
    new_chat_member: chatMember,
  }),
  // query_id: only on a guard bot's copy (Bot API 10.1).
  chat_join_request: z.looseObject({
    chat,
    from: user,
    user_chat_id: id,
    date: id,
    query_id: z.string().min(1).max(64).optional(),
  }),
} as const satisfies Record<(typeof ALLOWED_UPDATES)[number], z.ZodType>; // every kind the poller asks Telegram for

export type HandledUpdateType = keyof typeof updateSchemas;

/** The one handled kind an update carries, validated; or why it is skipped. */
export function classifyUpdate(
  update: Record<string, unknown>,
): { type: HandledUpdateType; payload: unknown } | { skip: string } {
  const type = (Object.keys(updateSchemas) as HandledUpdateType[]).find((t) => t in update);
  if (!type) return { skip: 'unhandled_type' };
  const parsed = updateSchemas[type].safeParse(update[type]);
  return parsed.success ? { type, payload: parsed.data } : { skip: 'malformed' };
}
