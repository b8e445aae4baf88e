/**
 * Every user-facing text, per language. Placeholders are `{name}`; a group's custom prompt may use
 * `{mention}` and `{channels}`. Add a language by adding a column: the type makes every key required.
 */
const en = {
  prompt: '{mention}, to write in this group please join {channels} first, then press the button below.',
  promptLeft: '{mention}, you left {channels}. Join again to keep writing in this group, then press the button below.',
  promptMany:
    '{mention}: to write in this group please join {channels} first, then press the button below. It checks whoever presses it.',
  joinButton: 'Join {title}',
  verifyButton: "✅ I've joined",
  notYourButton: 'This button is for someone else.',
  notMuted: 'You are not muted here: there is nothing to check.',
  invalidButton: 'This button is no longer valid.',
  stillMissing: 'You have not joined yet: {channels}',
  verified: 'Thank you, you can write now.',
  joinRequestPrompt: 'To join {group}, first subscribe to {channels}, then press "Check again".',
  checkAgainButton: '🔄 Check again',
  joinRequestApproved: 'Welcome! Your request to join {group} is approved.',
  joinRequestDeclined: 'Your request to join {group} expired because you did not subscribe in time. You can ask again.',
  adminsOnly: 'Only group admins can use this command.',
  missingRights: 'I need these admin rights here to protect this group: {rights}. Please grant them.',
  channelUncheckable:
    "I cannot see who is subscribed to {channel}: Telegram shows a channel's members only to its admins. Please make me an administrator of {channel}. Until then nobody is muted for not joining it.",
  botNotAdminInChannel: 'Make me an administrator of {channel} first, then run /protect again.',
  channelNotFound:
    'I cannot find the channel {channel}. Use its @username or id, and add me to it as an administrator.',
  notAChannel: '{channel} is not a channel.',
  protectUsage: 'Usage: /protect @channel [@channel …]',
  protectOn: 'Protection is on. Members must join: {channels}',
  protectOff: 'Protection is off. I am unmuting everyone I muted here.',
  basicGroup:
    'Telegram lets bots mute members only in supergroups. Your settings are kept and move with the group: protection works once it is upgraded (for example when you make chat history visible to new members).',
  notProtected: 'This group is not protected. Use /protect @channel to start.',
  status:
    'Protection: {state}\nMode: {mode}\nChannels: {channels}\nChannels I cannot check (make me an admin there): {unchecked}\nMuted by me now: {muted}\nMissing rights: {rights}',
  settings:
    'Settings:\nmode = {mode}\nprompt_lifetime = {promptLifetime} s\nmute_duration = {muteDuration}\nlanguage = {language}\nprompt_text = {promptText}\nchannel_ban_after = {channelBanAfter}\nprompt_style = {promptStyle}\nguard_timeout = {guardTimeout}\n\nChange with /set <key> <value>',
  setUsage:
    'Usage: /set <mode|prompt_lifetime|mute_duration|language|prompt_text|channel_ban_after|guard_timeout|prompt_style> <value>',
  guardBotOn: 'Guard bot: yes (join requests are checked before the request is decided; not joined in time: {timeout})',
  guardBotOff: 'Guard bot: no (a group owner can name me the guard bot in the group settings, Join requests)',
  setInvalid: 'Invalid value for {key}: {reason}',
  setDone: '{key} is now {value}.',
  allowUsage: 'Reply to a message with /allow, or give a user id: /allow 123456',
  allowed: 'User {user} is exempt from the channel check here.',
  disallowed: 'User {user} is no longer exempt.',
  on: 'on',
  off: 'off',
  none: 'none',
  forever: 'until verified',
  never: 'never (posts as channels are only deleted)',
  defaultText: '(default)',
  help: 'I keep this group for subscribers of its channels.\n/protect @channel [@channel …] — require channels\n/unprotect — stop and unmute everyone I muted\n/status — current state\n/settings — show settings\n/set <key> <value> — change a setting\n/allow, /disallow — exempt a user (reply or id)',
  start:
    'Hi! Add me to your group and your channels as an administrator (I need: restrict members, delete messages, invite users), then send /protect @yourchannel in the group.',
} as const;

type Texts = Record<keyof typeof en, string>;

const ru: Texts = {
  prompt: '{mention}, чтобы писать в этой группе, сначала подпишитесь на {channels}, затем нажмите кнопку ниже.',
  promptLeft:
    '{mention}, вы отписались от {channels}. Подпишитесь снова, чтобы писать в группе, затем нажмите кнопку ниже.',
  promptMany:
    '{mention}: чтобы писать в этой группе, сначала подпишитесь на {channels}, затем нажмите кнопку ниже. Она проверяет того, кто её нажал.',
  joinButton: 'Подписаться: {title}',
  verifyButton: '✅ Я подписался',
  notYourButton: 'Эта кнопка для другого пользователя.',
  notMuted: 'Вы здесь не ограничены: проверять нечего.',
  invalidButton: 'Эта кнопка больше не действует.',
  stillMissing: 'Вы ещё не подписались: {channels}',
  verified: 'Спасибо, теперь вы можете писать.',
  joinRequestPrompt: 'Чтобы вступить в {group}, подпишитесь на {channels}, затем нажмите «Проверить снова».',
  checkAgainButton: '🔄 Проверить снова',
  joinRequestApproved: 'Добро пожаловать! Заявка в {group} одобрена.',
  joinRequestDeclined: 'Заявка в {group} истекла: вы не подписались вовремя. Можно подать её снова.',
  adminsOnly: 'Эта команда только для администраторов группы.',
  missingRights: 'Чтобы защищать группу, мне нужны права администратора: {rights}. Пожалуйста, выдайте их.',
  channelUncheckable:
    'Я не вижу, кто подписан на {channel}: Telegram показывает подписчиков канала только его администраторам. Пожалуйста, сделайте меня администратором {channel}. До тех пор никого не ограничиваю за отсутствие подписки на него.',
  botNotAdminInChannel: 'Сначала сделайте меня администратором {channel}, затем снова выполните /protect.',
  channelNotFound: 'Не могу найти канал {channel}. Укажите @username или id и добавьте меня в канал администратором.',
  notAChannel: '{channel} — не канал.',
  protectUsage: 'Использование: /protect @канал [@канал …]',
  protectOn: 'Защита включена. Участники должны подписаться на: {channels}',
  protectOff: 'Защита выключена. Снимаю ограничения со всех, кого я ограничил.',
  basicGroup:
    'Telegram позволяет ботам ограничивать участников только в супергруппах. Настройки сохранены и перейдут вместе с группой: защита заработает после её преобразования (например, когда вы откроете историю чата для новых участников).',
  notProtected: 'Группа не защищена. Начните с /protect @канал.',
  status:
    'Защита: {state}\nРежим: {mode}\nКаналы: {channels}\nКаналы, которые я не могу проверить (сделайте меня там администратором): {unchecked}\nСейчас ограничено мной: {muted}\nНе хватает прав: {rights}',
  settings:
    'Настройки:\nmode = {mode}\nprompt_lifetime = {promptLifetime} с\nmute_duration = {muteDuration}\nlanguage = {language}\nprompt_text = {promptText}\nchannel_ban_after = {channelBanAfter}\nprompt_style = {promptStyle}\nguard_timeout = {guardTimeout}\n\nИзменить: /set <ключ> <значение>',
  setUsage:
    'Использование: /set <mode|prompt_lifetime|mute_duration|language|prompt_text|channel_ban_after|guard_timeout|prompt_style> <значение>',
  guardBotOn: 'Бот-страж: да (заявки проверяются до решения; не подписался вовремя: {timeout})',
  guardBotOff: 'Бот-страж: нет (владелец группы может назначить меня в настройках группы, «Заявки на вступление»)',
  setInvalid: 'Недопустимое значение {key}: {reason}',
  setDone: '{key} теперь {value}.',
  allowUsage: 'Ответьте на сообщение командой /allow или укажите id: /allow 123456',
  allowed: 'Пользователь {user} освобождён от проверки подписки здесь.',
  disallowed: 'Пользователь {user} больше не освобождён.',
  on: 'включена',
  off: 'выключена',
  none: 'нет',
  forever: 'до проверки',
  never: 'никогда (сообщения от имени каналов только удаляются)',
  defaultText: '(по умолчанию)',
  help: 'Я пускаю в группу только подписчиков её каналов.\n/protect @канал [@канал …] — требовать подписку\n/unprotect — выключить и снять ограничения\n/status — состояние\n/settings — настройки\n/set <ключ> <значение> — изменить настройку\n/allow, /disallow — освободить пользователя (ответом или id)',
  start:
    'Привет! Добавьте меня в группу и в каналы администратором (нужны права: ограничивать участников, удалять сообщения, приглашать), затем отправьте в группе /protect @вашканал.',
};

export const LANGUAGES = { en, ru } as const;
export type Language = keyof typeof LANGUAGES;
export type TextKey = keyof typeof en;

export const isLanguage = (value: string): value is Language => value in LANGUAGES;

/** The text for `key` in `language` (English when unknown), with `{placeholders}` filled in. */
export function text(language: string, key: TextKey, vars: Record<string, string | number> = {}): string {
  const catalogue: Texts = isLanguage(language) ? LANGUAGES[language] : en;
  return fill(catalogue[key], vars);
}

export function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** HTML-escapes user-controlled strings (names, titles) for parse_mode HTML. */
export const escapeHtml = (value: string) =>
  value.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
