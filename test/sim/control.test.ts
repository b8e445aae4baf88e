// The control API itself: validation, bulk set-up, reset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimControlError, type RunningSimulator, type SimClient } from '../../sim/index';
import { callApi, startTestSimulator } from './helpers';

let sim: RunningSimulator;
let client: SimClient;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
});
afterAll(() => sim.stop());

describe('control API', () => {
  it('rejects bad input with 400 and unknown things with 404', async () => {
    await expect(client.createBot({ token: 'not-a-token' })).rejects.toMatchObject({ status: 400 });
    await expect(client.member(-100123, 1)).rejects.toBeInstanceOf(SimControlError);
    await expect(client.member(-100123, 1)).rejects.toMatchObject({ status: 404 });
    await expect(client.createChat({ type: 'private' as never })).rejects.toMatchObject({ status: 400 });
    const response = await fetch(`${sim.url}/sim/nothing`);
    expect(response.status).toBe(404);
  });

  it('accepts a given token and uses its digits as the bot id', async () => {
    const token = `5550001:${'A'.repeat(35)}`;
    const bot = await client.createBot({ token });
    expect(bot).toMatchObject({ id: 5550001, token });
    expect((await callApi(sim.apiRoot, token, 'getMe')).body.result.id).toBe(5550001);
  });

  it('bulk-creates users and joins them without emitting updates', async () => {
    const bot = await client.createBot();
    const owner = await client.createUser();
    const group = await client.createChat({ type: 'supergroup', title: 'load', ownerId: owner.id });
    await client.makeAdmin(group.id, bot.id);
    const before = (await client.getBot(bot.id)).pendingUpdates;
    const { ids } = await client.createUsers(500);
    expect(new Set(ids).size).toBe(500);
    expect((await client.bulkJoin(group.id, ids)).joined).toBe(500);
    expect((await client.getBot(bot.id)).pendingUpdates).toBe(before);
    expect((await callApi(sim.apiRoot, bot.token, 'getChatMemberCount', { chat_id: group.id })).body.result).toBe(502); // owner + bot + 500
    expect((await client.member(group.id, ids[499]!)).status).toBe('member');
  });

  it('reset forgets everything: old tokens are unknown afterwards', async () => {
    const bot = await client.createBot();
    await client.reset();
    expect((await callApi(sim.apiRoot, bot.token, 'getMe')).status).toBe(401);
    expect(await client.state()).toMatchObject({ bots: 0, chats: 0 });
  });
});
