import type { Message } from 'telegraf/types';
import { addJob } from '../../queues';
import { isTelegramError } from '../core/telegram/errors';
import { channelNames } from './enforce';
import { missingGroupRights } from './bot-membership';
import { isAdminStatus } from '../core/telegram/membership';
import { heldRestrictions } from '../core/db/held-restrictions';
import { isGroupAdmin } from './membership';
import type { GroupPolicy } from './groups';
import { noteGuardBot } from './guard-bot';
import type { BotJob } from './job';
import { escapeHtml, isLanguage, LANGUAGES, text } from './texts';

type TextMessage = Message.TextMessage;
type CommandContext = { job: BotJob; message: TextMessage; args: string[]; rest: string; language: string };

/** `/cmd@bot args` → its name when addressed to this bot (or to no bot in particular). */
export function parseCommand(
  textValue: string,
  botUsername: string,
): { name: string; args: string[]; rest: string } | undefined {
  const m = /^\/([a-z_]+)(?:@(\w+))?(?:\s+([\s\S]*))?$/i.exec(textValue.trim());
  if (!m || (m[2] && m[2].toLowerCase() !== botUsername.toLowerCase())) return undefined;
  const rest = (m[3] ?? '').trim();
  return { name: m[1]!.toLowerCase(), args: rest ? rest.split(/\s+/) : [], rest };
}

const reply = (c: CommandContext, body: string, html = false) =>
  c.job.api.call('sendMessage', {
    chat_id: c.message.chat.id,
    text: body,
    ...(html ? { parse_mode: 'HTML' as const } : {}),
    reply_parameters: { message_id: c.message.message_id, allow_sending_without_reply: true },
    ...(c.message.message_thread_id ? { message_thread_id: c.message.message_thread_id } : {}),
  });

/** Durations like 600, 10m, 2h, 1d; 0 = forever. */
function parseDuration(value: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/i.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

const SETTINGS: Record<
  string,
  (value: string, language: string) => { data: Record<string, unknown>; shown: string } | string
> = {
  mode: (v) => (v === 'mute' || v === 'join_request' ? { data: { mode: v }, shown: v } : 'mute or join_request'),
  prompt_lifetime: (v) => {
    const s = parseDuration(v);
    return s !== undefined && s >= 10 && s <= 86400
      ? { data: { promptLifetimeSeconds: s }, shown: `${s} s` }
      : '10 s to 1 d (e.g. 300, 5m)';
  },
  mute_duration: (v, language) => {
    const s = parseDuration(v);
    if (s === 0) return { data: { muteDurationSeconds: 0 }, shown: text(language, 'forever') };
    return s !== undefined && s >= 30 && s <= 31_622_400
      ? { data: { muteDurationSeconds: s }, shown: `${s} s` }
      : '0 (until verified) or 30 s to 366 d (e.g. 1h, 7d)';
  },
  language: (v) => (isLanguage(v) ? { data: { language: v }, shown: v } : Object.keys(LANGUAGES).join(', ')),
  channel_ban_after: (v, language) => {
    const n = /^\d+$/.test(v) ? Number(v) : undefined;
    if (n === 0) return { data: { senderChatBanAfter: 0 }, shown: text(language, 'never') };
    return n !== undefined && n <= 100
      ? { data: { senderChatBanAfter: n }, shown: String(n) }
      : '0 (never ban, only delete) to 100 deleted posts';
  },
  guard_timeout: (v) =>
    v === 'decline' || v === 'queue' ? { data: { guardTimeoutAction: v }, shown: v } : 'decline or queue',
  prompt_style: (v) =>
    v === 'group' || v === 'ephemeral' ? { data: { promptStyle: v }, shown: v } : 'group or ephemeral',
  prompt_text: (v) => {
    if (v === 'default') return { data: { customPromptText: null }, shown: 'default' };
    return v.trim() && v.length <= 2048
      ? { data: { customPromptText: v }, shown: v }
      : 'text up to 2048 characters with {mention} and {channels}, or "default"';
  },
};

async function protect(c: CommandContext) {
  const { job, message } = c;
  const { db } = job;
  const chatId = BigInt(message.chat.id);
  if (message.chat.type !== 'supergroup' && message.chat.type !== 'group') return;
  const title = message.chat.title;
  const me = await job.api.call('getChatMember', { chat_id: message.chat.id, user_id: job.telegramBotId });
  const missingRights = missingGroupRights(me);
  // The linked discussion channel's posts are the group's own (sender-chats.ts).
  const info = await job.api.call('getChat', { chat_id: message.chat.id });
  const linkedChatId = 'linked_chat_id' in info && info.linked_chat_id ? BigInt(info.linked_chat_id) : null;
  const group = await db.protectedGroup.upsert({
    where: { botInstanceId_chatId: { botInstanceId: job.bot.id, chatId } },
    create: { botInstanceId: job.bot.id, chatId, title, chatType: message.chat.type, missingRights, linkedChatId },
    update: { title, missingRights, linkedChatId },
    include: { channelLinks: true },
  });
  if (!c.args.length && !group.channelLinks.length) return reply(c, text(c.language, 'protectUsage'));

  const channelIds: number[] = [];
  for (const arg of c.args) {
    const ref = /^-?\d+$/.test(arg)
      ? Number(arg)
      : arg.startsWith('@')
        ? arg
        : `@${arg.replace(/^https?:\/\/t\.me\//, '')}`;
    let chat;
    try {
      chat = await job.api.call('getChat', { chat_id: ref });
    } catch (err) {
      if (isTelegramError(err, 400) || isTelegramError(err, 403))
        return reply(c, text(c.language, 'channelNotFound', { channel: arg }));
      throw err;
    }
    if (chat.type !== 'channel') return reply(c, text(c.language, 'notAChannel', { channel: arg }));
    const botMember = await job.api
      .call('getChatMember', { chat_id: chat.id, user_id: job.telegramBotId })
      .catch(() => undefined);
    if (!botMember || !isAdminStatus(botMember.status))
      return reply(c, text(c.language, 'botNotAdminInChannel', { channel: arg }));
    const username = ('username' in chat && chat.username) || null;
    let inviteLink = ('invite_link' in chat && chat.invite_link) || null;
    if (!username && !inviteLink)
      inviteLink = await job.api.call('exportChatInviteLink', { chat_id: chat.id }).catch(() => null);
    const channel = await db.enforcedChannel.upsert({
      where: { botInstanceId_channelId: { botInstanceId: job.bot.id, channelId: BigInt(chat.id) } },
      create: {
        botInstanceId: job.bot.id,
        channelId: BigInt(chat.id),
        title: chat.title,
        username,
        inviteLink,
        botIsAdmin: true,
      },
      update: { title: chat.title, username, inviteLink, botIsAdmin: true, lastSyncAt: new Date() },
    });
    channelIds.push(channel.id);
  }
  await db.$transaction(async (tx) => {
    if (channelIds.length) {
      await tx.groupChannelLink.deleteMany({ where: { groupId: group.id } });
      await tx.groupChannelLink.createMany({
        data: channelIds.map((channelId, position) => ({
          groupId: group.id,
          channelId,
          botInstanceId: job.bot.id,
          position,
        })),
      });
    }
    await tx.protectedGroup.update({ where: { id: group.id }, data: { enabled: true, botRemovedAt: null } });
  });
  await job.groups.changed(job.bot.id, chatId);
  const policy = await job.groups.get(job.bot.id, chatId);
  await reply(c, text(c.language, 'protectOn', { channels: channelNames(policy?.channels ?? []) }), true);
  if (message.chat.type === 'group') await reply(c, text(c.language, 'basicGroup'));
  else if (missingRights.length)
    await reply(c, text(c.language, 'missingRights', { rights: missingRights.join(', ') }));
}

async function unprotect(c: CommandContext) {
  const { job, message } = c;
  const group = await job.db.protectedGroup.findUnique({
    where: { botInstanceId_chatId: { botInstanceId: job.bot.id, chatId: BigInt(message.chat.id) } },
  });
  if (!group?.enabled) return reply(c, text(c.language, 'notProtected'));
  await job.db.protectedGroup.update({ where: { id: group.id }, data: { enabled: false } });
  await job.groups.changed(job.bot.id, message.chat.id);
  await addJob(job.queue, 'lift-restrictions', { botInstanceId: job.bot.id, groupId: group.id, reason: 'unprotected' });
  await reply(c, text(c.language, 'protectOff'));
}

async function status(c: CommandContext) {
  const { job, message } = c;
  const group = await job.groups.get(job.bot.id, message.chat.id);
  if (!group) return reply(c, text(c.language, 'notProtected'));
  const row = await job.db.protectedGroup.findUnique({ where: { id: group.id }, select: { missingRights: true } });
  const muted = await job.db.restriction.count({ where: heldRestrictions(group.id) });
  const none = text(c.language, 'none');
  const unchecked = group.channels.filter((ch) => !ch.botIsAdmin);
  const guard = await guardBotNow(job, group);
  await reply(
    c,
    text(c.language, 'status', {
      state: text(c.language, group.enabled ? 'on' : 'off'),
      mode: group.mode,
      channels: group.channels.length ? channelNames(group.channels) : none,
      unchecked: unchecked.length ? channelNames(unchecked) : none,
      muted,
      rights: row?.missingRights.length ? row.missingRights.join(', ') : none,
    }) +
      '\n' +
      text(c.language, guard ? 'guardBotOn' : 'guardBotOff', { timeout: group.guardTimeoutAction }),
    true,
  );
}

/**
 * Whether Telegram names this bot the group's guard bot now (getChat guard_bot, Bot API 10.1; shown to
 * administrators only), remembered for the API and the dashboard. Unknown (a failed call) keeps what was known.
 */
async function guardBotNow(job: BotJob, group: GroupPolicy): Promise<boolean> {
  try {
    const chat = (await job.api.call('getChat', { chat_id: Number(group.chatId) })) as { guard_bot?: { id: number } };
    const isGuard = chat.guard_bot?.id === job.telegramBotId;
    await noteGuardBot(job, group, isGuard);
    return isGuard;
  } catch (err) {
    if (isTelegramError(err, 400) || isTelegramError(err, 403)) return group.isGuardBot === true;
    throw err;
  }
}

async function settings(c: CommandContext) {
  const group = await c.job.groups.get(c.job.bot.id, c.message.chat.id);
  if (!group) return reply(c, text(c.language, 'notProtected'));
  await reply(
    c,
    text(c.language, 'settings', {
      mode: group.mode,
      promptLifetime: group.promptLifetimeSeconds,
      muteDuration: group.muteDurationSeconds ? `${group.muteDurationSeconds} s` : text(c.language, 'forever'),
      language: group.language,
      promptText: group.customPromptText ? escapeHtml(group.customPromptText) : text(c.language, 'defaultText'),
      channelBanAfter: group.senderChatBanAfter || text(c.language, 'never'),
      promptStyle: group.promptStyle,
      guardTimeout: group.guardTimeoutAction,
    }),
    true,
  );
}

async function set(c: CommandContext) {
  const [key] = c.args;
  const value = c.rest.slice((key ?? '').length).trim();
  const setting = key ? SETTINGS[key.toLowerCase()] : undefined;
  if (!key || !setting || !value) return reply(c, text(c.language, 'setUsage'));
  const parsed = setting(value, c.language);
  if (typeof parsed === 'string') return reply(c, text(c.language, 'setInvalid', { key, reason: parsed }));
  const chatId = BigInt(c.message.chat.id);
  const updated = await c.job.db.protectedGroup.updateMany({
    where: { botInstanceId: c.job.bot.id, chatId },
    data: parsed.data,
  });
  if (!updated.count) return reply(c, text(c.language, 'notProtected'));
  await c.job.groups.changed(c.job.bot.id, chatId);
  const language = typeof parsed.data.language === 'string' ? parsed.data.language : c.language;
  await reply(c, text(language, 'setDone', { key, value: parsed.shown }));
}

/** Telegram's stand-ins in `from` (anonymous admins, channel posts, automatic forwards): never a person to exempt. */
const STAND_IN_USERS = new Set([1087968824, 136817688, 777000]);

async function whitelist(c: CommandContext, allow: boolean) {
  const target =
    c.message.reply_to_message?.from?.id ?? (c.args[0] && /^\d+$/.test(c.args[0]) ? Number(c.args[0]) : undefined);
  if (!target || STAND_IN_USERS.has(target)) return reply(c, text(c.language, 'allowUsage'));
  const group = await c.job.groups.get(c.job.bot.id, c.message.chat.id);
  if (!group) return reply(c, text(c.language, 'notProtected'));
  const { db } = c.job;
  if (allow) {
    await db.groupWhitelist.upsert({
      where: { groupId_userId: { groupId: group.id, userId: BigInt(target) } },
      create: {
        botInstanceId: c.job.bot.id,
        groupId: group.id,
        userId: BigInt(target),
        addedByUserId: c.message.from ? BigInt(c.message.from.id) : null,
      },
      update: {},
    });
  } else {
    await db.groupWhitelist.deleteMany({ where: { groupId: group.id, userId: BigInt(target) } });
  }
  await c.job.groups.changed(c.job.bot.id, c.message.chat.id);
  await reply(c, text(c.language, allow ? 'allowed' : 'disallowed', { user: target }));
}

const GROUP_COMMANDS: Record<string, (c: CommandContext) => Promise<unknown>> = {
  protect,
  unprotect,
  status,
  settings,
  set,
  allow: (c) => whitelist(c, true),
  disallow: (c) => whitelist(c, false),
  help: (c) => reply(c, text(c.language, 'help')),
};

/**
 * Bot commands. In groups they are for admins (checked with Telegram); anyone else gets a short reply,
 * never an error. In a private chat, /start and /help explain the set-up.
 * Returns false when the text was not a command for this bot, or a group member's refused one (the message
 * is then checked like any other).
 */
export async function onCommand(job: BotJob, message: TextMessage): Promise<boolean> {
  const command = parseCommand(message.text, job.bot.username);
  if (!command) return false;
  if (message.chat.type === 'private') {
    if (command.name !== 'start' && command.name !== 'help') return false;
    await job.api.call('sendMessage', {
      chat_id: message.chat.id,
      text: text(message.from?.language_code ?? 'en', command.name === 'start' ? 'start' : 'help'),
    });
    return true;
  }
  const handler = GROUP_COMMANDS[command.name];
  if (!handler) return false;
  const group = await job.groups.get(job.bot.id, message.chat.id);
  const c: CommandContext = { job, message, args: command.args, rest: command.rest, language: group?.language ?? 'en' };
  const senderChat = (message as { sender_chat?: { id: number } }).sender_chat;
  const isAnonymousAdmin = senderChat?.id === message.chat.id;
  if (!isAnonymousAdmin && !(message.from && (await isGroupAdmin(job, message.chat.id, message.from.id)))) {
    await reply(c, text(c.language, 'adminsOnly'));
    // Still a message like any other: a non-subscriber's command is no way around the channel check.
    return false;
  }
  await handler(c);
  return true;
}
