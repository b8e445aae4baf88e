// A Telegraf bot, pointed at the simulator, works end to end without knowing it is not Telegram.
import { Markup, Telegraf } from 'telegraf';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningSimulator, SimClient } from '../../sim/index';
import { PERMISSION_KEYS } from '../../sim/types';
import { buildScene, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let scene: Scene;
let bot: Telegraf;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  scene = await buildScene(sim, client);
  bot = new Telegraf(scene.bot.token, { telegram: { apiRoot: sim.apiRoot } });
  bot.start((ctx) => ctx.reply(`hello ${ctx.from.first_name}`));
  bot.on('chat_member', async (ctx) => {
    const joined = ctx.chatMember.new_chat_member;
    if (joined.status === 'member') {
      await ctx.telegram.sendMessage(
        ctx.chat.id,
        `welcome ${joined.user.first_name}`,
        Markup.inlineKeyboard([Markup.button.callback('I am subscribed', `verify:${joined.user.id}`)]),
      );
    }
  });
  bot.action(/^verify:(\d+)$/, async (ctx) => {
    await ctx.answerCbQuery('checking…');
    await ctx.editMessageText('verified');
  });
  bot.on('message', (ctx) => {
    if ('text' in ctx.message && ctx.message.text === 'ping')
      return ctx.reply('pong', { reply_parameters: { message_id: ctx.message.message_id } });
  });
  await new Promise<void>((resolve) => {
    void bot.launch({ allowedUpdates: ['message', 'callback_query', 'chat_member', 'my_chat_member'] }, resolve);
  });
});

afterAll(async () => {
  bot.stop('test over');
  await sim.stop();
});

describe('Telegraf against the simulator', () => {
  it('getMe answers with the bot identity', async () => {
    const me = await bot.telegram.getMe();
    expect(me).toMatchObject({ id: scene.bot.id, is_bot: true, username: scene.bot.username });
  });

  it('receives a private /start and replies', async () => {
    await client.sendPrivateMessage(scene.bot.id, scene.alice.id, '/start');
    await vi.waitFor(
      async () => {
        const { messages } = await client
          .messages(scene.alice.id)
          .catch(() => ({ messages: [] as { text?: string }[] }));
        expect(messages.map((m) => m.text)).toContain('hello Alice');
      },
      { timeout: 5000, interval: 20 },
    );
  });

  it('receives a group message and replies to it', async () => {
    await client.join(scene.group.id, scene.alice.id);
    const sent = await client.sendMessage(scene.group.id, { fromId: scene.alice.id, text: 'ping' });
    await vi.waitFor(
      async () => {
        const { messages } = await client.messages(scene.group.id);
        const pong = messages.find((m) => m.text === 'pong');
        expect(pong?.reply_to_message?.message_id).toBe(sent.message_id);
      },
      { timeout: 5000, interval: 20 },
    );
  });

  it('chat_member join → welcome with a button → press → answerCbQuery + edit', async () => {
    const bob = await client.createUser({ firstName: 'Bob' });
    await client.join(scene.group.id, bob.id);
    let welcomeId = 0;
    await vi.waitFor(
      async () => {
        const { messages } = await client.messages(scene.group.id);
        const welcome = messages.find((m) => m.text === 'welcome Bob');
        expect(welcome?.reply_markup?.inline_keyboard[0]?.[0]?.callback_data).toBe(`verify:${bob.id}`);
        welcomeId = welcome!.message_id;
      },
      { timeout: 5000, interval: 20 },
    );
    const { callbackQueryId } = await client.pressButton(scene.group.id, welcomeId, bob.id, `verify:${bob.id}`);
    await vi.waitFor(
      async () => {
        expect((await client.callbackQuery(callbackQueryId)).answer).toEqual({ text: 'checking…' });
        const { messages } = await client.messages(scene.group.id);
        expect(messages.find((m) => m.message_id === welcomeId)?.text).toBe('verified');
      },
      { timeout: 5000, interval: 20 },
    );
  });

  it('restrictChatMember through bot.telegram mutes; the defaults leave the user restricted, every permission unmutes', async () => {
    const carol = await client.createUser({ firstName: 'Carol' });
    await client.join(scene.group.id, carol.id);
    await bot.telegram.restrictChatMember(scene.group.id, carol.id, { permissions: { can_send_messages: false } });
    const muted = await bot.telegram.getChatMember(scene.group.id, carol.id);
    expect(muted).toMatchObject({ status: 'restricted', is_member: true, can_send_messages: false, until_date: 0 });
    const chat = await bot.telegram.getChat(scene.group.id);
    if (!('permissions' in chat) || !chat.permissions) throw new Error('group without permissions');
    await bot.telegram.restrictChatMember(scene.group.id, carol.id, { permissions: chat.permissions });
    expect((await bot.telegram.getChatMember(scene.group.id, carol.id)).status).toBe('restricted');
    const everything = Object.fromEntries(PERMISSION_KEYS.map((key) => [key, true]));
    await bot.telegram.restrictChatMember(scene.group.id, carol.id, { permissions: everything });
    expect((await bot.telegram.getChatMember(scene.group.id, carol.id)).status).toBe('member');
  });

  it('surfaces Telegram errors as TelegramError with code and description', async () => {
    await expect(bot.telegram.getChatMember(scene.group.id, 1)).rejects.toMatchObject({
      code: 400,
      description: 'Bad Request: user not found',
    });
  });

  it('long polling made no overlapping getUpdates calls', async () => {
    const { counters } = await client.calls(scene.bot.id);
    expect(counters.byMethod.getUpdates!.total).toBeGreaterThan(0);
    expect(counters.conflicts409).toBe(0);
  });

  it('stop then relaunch: the offset was confirmed, nothing is handled twice, no 409', async () => {
    const scene = await buildScene(sim, client);
    const seen: string[] = [];
    const launchBot = async () => {
      const instance = new Telegraf(scene.bot.token, { telegram: { apiRoot: sim.apiRoot } });
      instance.on('message', (ctx) => {
        if ('text' in ctx.message) seen.push(ctx.message.text);
      });
      await new Promise<void>((resolve) => void instance.launch({ allowedUpdates: ['message'] }, resolve));
      return instance;
    };
    const first = await launchBot();
    await client.sendMessage(scene.group.id, { fromId: scene.owner.id, text: 'once' });
    await vi.waitFor(() => expect(seen).toEqual(['once']), { timeout: 5000, interval: 20 });
    first.stop();
    // Telegraf confirms the offset with a last getUpdates(limit 1) after aborting its long poll.
    await vi.waitFor(
      async () => {
        const { calls } = await client.calls(scene.bot.id, { method: 'getUpdates' });
        expect(calls.at(-1)?.params.limit).toBe(1);
      },
      { timeout: 5000, interval: 20 },
    );
    const second = await launchBot();
    await client.sendMessage(scene.group.id, { fromId: scene.owner.id, text: 'twice?' });
    await vi.waitFor(() => expect(seen).toEqual(['once', 'twice?']), { timeout: 5000, interval: 20 });
    second.stop();
    expect((await client.calls(scene.bot.id)).counters.conflicts409).toBe(0);
  });
});
