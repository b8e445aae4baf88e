/**
 * npm run bench:telegram-client [-- --calls 2500 --concurrency 200]
 *
 * CPU per Bot API call in this process, getChatMember against the simulator, the calls `--concurrency` at a time:
 *   - Telegraf's own client (node-fetch, a keep-alive agent), what a plain Telegraf bot pays: the baseline;
 *   - our transport (services/core/telegram/transport.ts, undici);
 *   - BotApi.call, the transport inside every policy a verifier's call goes through (span, retry, breaker,
 *     timeout, the cooldown read in Redis, metrics and the api_call_log record).
 * Three rounds each, taking turns; the first is cold (JIT, new connections), the mean of the other two is the warm figure.
 * BotApi's first round runs after the transport's and so finds its connections and HTTP code warm: only its own
 * policies are cold there.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Telegram } from 'telegraf';
import { loadConfig } from '../../services/core/config';
import { createContext } from '../../services/core/context';
import { createLogger } from '../../services/core/logger';
import { BotApi } from '../../services/core/telegram/client';
import { callBotApi } from '../../services/core/telegram/transport';
import { SimClient } from '../../sim/client';
import { dropRedisPrefix, numberArg, report, runBench, simulatorProcess, type Row } from './support';

const CALLS = numberArg('calls', 2500);
const CONCURRENCY = numberArg('concurrency', 200);
const ROUNDS = 3;

async function main() {
  const simulator = await simulatorProcess();
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    LOG_TO_FILE: 'false',
    REDIS_PREFIX: prefix,
    TELEGRAM_API_ROOT: simulator.url,
  });
  const ctx = await createContext(config, createLogger({ level: 'error' }));
  try {
    const sim = new SimClient(simulator.url);
    const owner = await sim.createUser({ firstName: 'Owner' });
    const bot = await sim.createBot({ username: `tc${randomBytes(3).toString('hex')}bot` });
    const channel = await sim.createChat({
      type: 'channel',
      title: 'Channel',
      username: `tc${randomBytes(4).toString('hex')}`,
      ownerId: owner.id,
    });
    await sim.makeAdmin(channel.id, bot.id, { can_invite_users: true });
    const { ids } = await sim.createUsers(CALLS, 'Member');
    await sim.bulkJoin(channel.id, ids.slice(0, Math.floor(CALLS * 0.8)));

    const telegraf = new Telegram(bot.token, { apiRoot: simulator.url });
    // The keep-alive agent bench:pipeline gives its plain bot (Telegraf drops its own for http:// roots).
    (telegraf as unknown as { options: { agent: unknown } }).options.agent = new http.Agent({
      keepAlive: true,
      maxSockets: 256,
    });
    const api = new BotApi({
      botInstanceId: 1,
      token: bot.token,
      apiRoot: simulator.url,
      redis: ctx.redis,
      keys: ctx.keys,
      cooldowns: ctx.cooldowns,
      metrics: ctx.metrics,
      log: ctx.log,
      onCall: () => {},
    });
    const params = (userId: number) => ({ chat_id: channel.id, user_id: userId });
    const clients: Array<[string, (userId: number) => Promise<unknown>]> = [
      ["Telegraf's client (node-fetch)", (u) => telegraf.callApi('getChatMember', params(u))],
      ['our transport (undici)', (u) => callBotApi(simulator.url, bot.token, 'getChatMember', params(u))],
      ['BotApi.call (transport + policies)', (u) => api.call('getChatMember', params(u))],
    ];
    const perCall = new Map<string, number[]>(clients.map(([label]) => [label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, call] of clients) {
        let next = 0;
        const cpu = process.cpuUsage();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < CALLS) await call(ids[next++]!);
          }),
        );
        const used = process.cpuUsage(cpu);
        const us = (used.user + used.system) / CALLS;
        perCall.get(label)!.push(us);
        console.log(`round ${round + 1} ${label}: ${us.toFixed(0)} µs of CPU per call`);
      }
    }
    const warm = (label: string) => {
      const [, ...rest] = perCall.get(label)!;
      return rest.reduce((a, b) => a + b, 0) / rest.length;
    };
    const cold = (label: string) => perCall.get(label)![0]!;
    const baseline = clients[0]![0];
    const rows: Row[] = clients.slice(1).flatMap(([label]) => [
      {
        figure: `${label}, CPU per call, warm`,
        value: warm(label),
        baseline: warm(baseline),
        unit: 'µs',
        ratio: warm(label) / warm(baseline),
      },
      {
        figure: `${label}, CPU per call, first round (cold)`,
        value: cold(label),
        baseline: cold(baseline),
        unit: 'µs',
        ratio: cold(label) / cold(baseline),
      },
    ]);
    report('telegram-client', rows, { calls: CALLS, concurrency: CONCURRENCY, baseline: "Telegraf's callApi" });
  } finally {
    await ctx.lifecycle.shutdown('bench done', 5_000);
    await dropRedisPrefix(prefix);
    await simulator.stop();
  }
}

runBench(main);
