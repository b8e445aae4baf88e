// The demo's scenario: simulated users joining protected groups (some already subscribed, most not),
// writing, subscribing and pressing "I've joined", leaving channels, and asking to join — one step at a time.
import type { SimClient } from '../../sim';

export interface DemoGroup {
  botId: number;
  chatId: number;
  title: string;
  mode: 'mute' | 'join_request';
  /** The bot is the group's guard bot (Bot API 10.1): join requests come with a query, answered via our Web App. */
  guard?: boolean;
  channelIds: number[];
  /** Users in the group and subscribed (as far as the scenario knows). */
  members: number[];
  /** Users who joined without subscribing (muted by the bot, waiting for the prompt). */
  muted: number[];
}

export interface DemoWorld {
  client: SimClient;
  groups: DemoGroup[];
  /** The API, which serves the guard bots' verification Web App. */
  apiUrl?: string;
}

export interface Scenario {
  steps: number;
  failures: number;
  counts: Record<string, number>;
  stop(): Promise<void>;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
const take = <T>(items: T[]): T | undefined =>
  items.length ? items.splice(Math.floor(Math.random() * items.length), 1)[0] : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FIRST_NAMES = [
  'Aiko',
  'Ben',
  'Chen',
  'Dana',
  'Emil',
  'Fatima',
  'Goro',
  'Hana',
  'Ivan',
  'Jia',
  'Kofi',
  'Lena',
  'Mateo',
  'Nia',
  'Omar',
  'Priya',
  'Quinn',
  'Rosa',
  'Sven',
  'Tariq',
  'Uma',
  'Vik',
  'Wen',
  'Yusuf',
  'Zoe',
];
const LINES = [
  'hi everyone!',
  'anyone here tried the new release?',
  'thanks for the tips',
  'lol',
  'good morning',
  'where can I find the rules?',
  'great post',
  'see you at the meetup',
];

export function startScenario(world: DemoWorld, options: { stepMs: number }): Scenario {
  const { client } = world;
  const muteGroups = world.groups.filter((g) => g.mode === 'mute');
  const requestGroups = world.groups.filter((g) => g.mode === 'join_request');
  const state: Scenario = { steps: 0, failures: 0, counts: {}, stop: async () => {} };

  const newUser = async () => (await client.createUser({ firstName: pick(FIRST_NAMES), languageCode: 'en' })).id;
  const subscribe = async (g: DemoGroup, userId: number) => {
    for (const ch of g.channelIds) await client.join(ch, userId);
  };

  /** Finds the bot's prompt for this user in the group (its button carries v:<userId>) and presses it. */
  const pressVerify = async (g: DemoGroup, userId: number) => {
    // In a group with ephemeral prompts, the user's own prompt is shown to them alone.
    const { messages: ephemeral } = await client.ephemeralMessages(g.chatId);
    const own = ephemeral.findLast((e) => e.receiverId === userId && e.visible && !e.deleted);
    if (own) {
      await client.pressEphemeralButton(g.chatId, own.ephemeralMessageId, userId, `v:${userId}`);
      return true;
    }
    const { messages } = await client.messages(g.chatId);
    for (const m of [...messages].reverse()) {
      const rows =
        (m.reply_markup as { inline_keyboard?: Array<Array<{ callback_data?: string }>> } | undefined)
          ?.inline_keyboard ?? [];
      const button = rows.flat().find((b) => b.callback_data === `v:${userId}`);
      if (button) {
        await client.pressButton(g.chatId, m.message_id, userId, button.callback_data!);
        return true;
      }
    }
    return false;
  };

  const actions: Array<[weight: number, name: string, run: () => Promise<void>]> = [
    // A newcomer who is not subscribed: the bot mutes them and posts a prompt.
    [
      30,
      'join_unsubscribed',
      async () => {
        const g = pick(muteGroups);
        const u = await newUser();
        await client.join(g.chatId, u);
        g.muted.push(u);
      },
    ],
    // A muted newcomer subscribes and presses "I've joined": unmuted.
    [
      25,
      'subscribe_and_verify',
      async () => {
        const waiting = muteGroups.filter((x) => x.muted.length);
        if (!waiting.length) return;
        const g = pick(waiting);
        const u = take(g.muted)!;
        await subscribe(g, u);
        await sleep(300);
        if (!(await pressVerify(g, u)))
          await client.sendMessage(g.chatId, { fromId: u, text: 'I subscribed!' }).catch(() => {});
        g.members.push(u);
      },
    ],
    // A newcomer who is already subscribed: verified straight away.
    [
      15,
      'join_subscribed',
      async () => {
        const g = pick(muteGroups);
        const u = await newUser();
        await subscribe(g, u);
        await client.join(g.chatId, u);
        g.members.push(u);
      },
    ],
    // Members chat (muted users cannot write: Telegram's client does not let them).
    [
      15,
      'message',
      async () => {
        const g = pick(muteGroups);
        if (!g.members.length) return;
        await client.sendMessage(g.chatId, { fromId: pick(g.members), text: pick(LINES) });
      },
    ],
    // A member leaves a channel: muted again.
    [
      8,
      'leave_channel',
      async () => {
        const g = pick(muteGroups);
        const u = take(g.members);
        if (u === undefined) return;
        await client.leave(pick(g.channelIds), u);
        g.muted.push(u);
      },
    ],
    // Someone asks to join a join-request group (about half already subscribed: approved at once).
    [
      7,
      'join_request',
      async () => {
        if (!requestGroups.length) return;
        const g = pick(requestGroups);
        const u = await newUser();
        if (Math.random() < 0.6) await subscribe(g, u);
        await client.sendPrivateMessage(g.botId, u, '/start').catch(() => {});
        await client.requestJoin(g.chatId, u);
      },
    ],
    // A guard-bot requester who was shown the Web App opens it, joins the channels and presses "check".
    [
      5,
      'guard_web_app',
      async () => {
        const guarded = requestGroups.filter((x) => x.guard);
        if (!guarded.length || !world.apiUrl) return;
        const g = pick(guarded);
        const waiting = (await client.joinQueries({ chatId: g.chatId })).queries.filter((q) => q.state === 'web_app');
        if (!waiting.length) return;
        const query = pick(waiting);
        const opened = await client.openJoinQueryWebApp(query.id);
        if (Math.random() < 0.8) await subscribe(g, query.userId);
        const url = new URL(opened.url);
        await fetch(`${world.apiUrl}/webapp/join/check`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            initData: opened.initData,
            bot: url.searchParams.get('bot'),
            chat: url.searchParams.get('chat'),
          }),
        });
      },
    ],
  ];
  const totalWeight = actions.reduce((a, [w]) => a + w, 0);
  const choose = () => {
    let r = Math.random() * totalWeight;
    for (const a of actions) if ((r -= a[0]) < 0) return a;
    return actions[0]!;
  };

  let running = true;
  const loop = (async () => {
    while (running) {
      const [, name, run] = choose();
      try {
        await run();
        state.counts[name] = (state.counts[name] ?? 0) + 1;
      } catch {
        state.failures++;
      }
      state.steps++;
      // Keep the lists from growing without bound over a long demo.
      for (const g of world.groups) {
        if (g.members.length > 500) g.members.splice(0, g.members.length - 500);
        if (g.muted.length > 200) g.muted.splice(0, g.muted.length - 200);
      }
      const jitter = options.stepMs * (0.5 + Math.random());
      for (let waited = 0; running && waited < jitter; waited += 100) await sleep(Math.min(100, jitter - waited));
    }
  })();
  state.stop = async () => {
    running = false;
    await loop;
  };
  return state;
}
