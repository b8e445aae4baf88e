// Shared set-up for simulator tests: a running simulator, its control client, and a raw Bot API caller.
import { SimClient, startSimulator, type RunningSimulator, type SimBot, type SimChat } from '../../sim/index';
import type { TgUser } from '../../sim/types';

export interface BotApiAnswer {
  status: number;
  contentType: string;
  body: { ok: boolean; result?: any; error_code?: number; description?: string; parameters?: { retry_after?: number } };
}

/** Calls the Bot API like any client would: JSON (default), form-encoded, or GET with a query string. */
export async function callApi(
  apiRoot: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
  encoding: 'json' | 'form' | 'query' = 'json',
): Promise<BotApiAnswer> {
  const url = `${apiRoot}/bot${token}/${method}`;
  const asStrings = () =>
    new URLSearchParams(
      Object.entries(params).map(([k, v]): [string, string] => [
        k,
        typeof v === 'object' ? JSON.stringify(v) : String(v),
      ]),
    );
  let response: Response;
  if (encoding === 'query') response = await fetch(`${url}?${asStrings()}`);
  else if (encoding === 'form')
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: asStrings().toString(),
    });
  else
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: (await response.json()) as BotApiAnswer['body'],
  };
}

export interface Scene {
  bot: SimBot;
  owner: TgUser;
  alice: TgUser;
  group: SimChat;
  channel: SimChat;
  /** Bot API call as this scene's bot */
  api: (
    method: string,
    params?: Record<string, unknown>,
    encoding?: 'json' | 'form' | 'query',
  ) => Promise<BotApiAnswer>;
}

/** A bot that is admin (restrict + invite + delete) of a supergroup and its channel, an owner and a user. */
export async function buildScene(
  sim: RunningSimulator,
  client: SimClient,
  options: { allowedUpdates?: string[] } = {},
): Promise<Scene> {
  const bot = await client.createBot(options.allowedUpdates ? { allowedUpdates: options.allowedUpdates } : {});
  const owner = await client.createUser({ firstName: 'Owner' });
  const alice = await client.createUser({ firstName: 'Alice', username: `alice${bot.id}` });
  const channel = await client.createChat({
    type: 'channel',
    title: 'News',
    username: `news${bot.id}`,
    ownerId: owner.id,
  });
  const group = await client.createChat({
    type: 'supergroup',
    title: 'Group',
    ownerId: owner.id,
    linkedChatId: channel.id,
  });
  await client.makeAdmin(group.id, bot.id);
  await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
  return {
    bot,
    owner,
    alice,
    group,
    channel,
    api: (method, params, encoding) => callApi(sim.apiRoot, bot.token, method, params, encoding),
  };
}

export async function startTestSimulator(): Promise<{ sim: RunningSimulator; client: SimClient }> {
  const sim = await startSimulator({ port: 0 });
  return { sim, client: new SimClient(sim.url) };
}

/** Drains and confirms all pending updates of the scene's bot. */
export async function drainUpdates(scene: Scene): Promise<void> {
  const { body } = await scene.api('getUpdates', { offset: -1, timeout: 0 });
  const last = body.result?.at(-1);
  if (last) await scene.api('getUpdates', { offset: last.update_id + 1, timeout: 0 });
}
