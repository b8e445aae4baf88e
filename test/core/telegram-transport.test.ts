// The Bot API transport over HTTP against the simulator: long polls do not take the connections other calls need,
// however many bots one process polls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callBotApi } from '../../services/core/telegram/transport';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';

let sim: RunningSimulator;
let client: SimClient;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  client = new SimClient(sim.url);
});
afterAll(async () => {
  await sim?.stop();
});

/** More bots than the 256 connections every other call shares. */
const BOTS = 300;
const POLL_S = 8;

describe('long polls', () => {
  it(`of ${BOTS} bots at once: the last bot's update arrives at once, and other calls are answered meanwhile`, async () => {
    const bots: SimBot[] = [];
    for (let i = 0; i < BOTS; i++) bots.push(await client.createBot({}));
    const user = await client.createUser({ firstName: 'Writer' });
    const last = bots.at(-1)!;
    await client.sendPrivateMessage(last.id, user.id, 'hello');

    const started = Date.now();
    const idle = bots
      .slice(0, -1)
      .map((bot) =>
        callBotApi(sim.apiRoot, bot.token, 'getUpdates', { timeout: POLL_S, allowed_updates: ['message'] }),
      );
    // Let every idle poll reach the simulator and hang there first.
    await new Promise((r) => setTimeout(r, 500));
    const updates = await callBotApi(sim.apiRoot, last.token, 'getUpdates', { timeout: POLL_S });
    const answeredAfter = Date.now() - started;
    const me = await callBotApi(sim.apiRoot, bots[0]!.token, 'getMe', {});
    const callAfter = Date.now() - started;

    expect(updates.map((u) => ('message' in u ? u.message : undefined)?.from?.id)).toEqual([user.id]);
    expect(me.id).toBe(bots[0]!.id);
    // Under a shared cap both would have waited for a long poll to end (POLL_S).
    expect(answeredAfter).toBeLessThan((POLL_S * 1000) / 2);
    expect(callAfter).toBeLessThan((POLL_S * 1000) / 2);
    expect(await Promise.all(idle)).toEqual(bots.slice(0, -1).map(() => []));
  });
});
