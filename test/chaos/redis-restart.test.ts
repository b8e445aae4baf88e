import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import {
  chaosDeployment,
  drained,
  makeJoiners,
  outcome,
  persistentRedis,
  printOutcome,
  protectGroups,
  sleep,
  type ChaosDeployment,
} from './helpers';

const database = useTestDatabase();
const PREFIX = 'chaosredis';
let d: ChaosDeployment;
let redisServer: Awaited<ReturnType<typeof persistentRedis>>;
let port: number;
const dir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-chaos-redis-'));

beforeAll(async () => {
  port = await freePort();
  redisServer = await persistentRedis(port, dir);
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redisServer.url, redisPrefix: PREFIX });
});
afterAll(async () => {
  await d?.stop();
  await redisServer?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('chaos: Redis restarts under load', () => {
  it('every role reconnects and the run completes with nothing lost or done twice', { timeout: 60_000 }, async () => {
    const bot = await d.addBot();
    const apiPort = await freePort();
    // Every role in one process (api included), plus a second verifier process.
    const all = d.spawn('poller,verifier,maintenance,api', { API_PORT: String(apiPort) });
    const verifier = d.spawn('verifier');
    const ready = async () => (await fetch(`http://127.0.0.1:${apiPort}/ready`).catch(() => undefined))?.status === 200;
    await waitFor(ready, 30_000, 'the api to be ready');
    const scene = await protectGroups(d, bot, 8);
    const joiners = await makeJoiners(d, scene, 50, 0.7);

    let next = 0;
    const stream = (async () => {
      while (next < joiners.length) {
        const j = joiners[next++]!;
        await d.client.join(j.groupId, j.userId);
        await sleep(15);
      }
    })();
    await sleep(1_500);
    const joinedBeforeRestart = next;
    const killedAt = Date.now();
    await redisServer.kill(); // a crash: SIGKILL (append-only file, fsync always: nothing acknowledged is lost)
    await waitFor(async () => !(await ready()), 10_000, '/ready to go red');
    const redMs = Date.now() - killedAt;
    await sleep(3_000);
    redisServer = await persistentRedis(port, dir);
    const restartedAt = Date.now();
    await waitFor(ready, 30_000, '/ready to be green again');
    const greenAgainMs = Date.now() - restartedAt;
    await stream;
    await drained(d, bot, 30_000);
    await sleep(600);

    const result = await outcome(d, bot, joiners);
    const { counters } = await d.client.calls(bot.id);
    printOutcome('redis-restart', result, {
      joinedBeforeRestart,
      redisDownMs: restartedAt - killedAt,
      readyRedAfterMs: redMs,
      readyGreenAfterRestartMs: greenAgainMs,
      conflicts409: counters.conflicts409,
    });
    expect(result.problems).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(counters.conflicts409).toBe(0);
    expect(all.child.exitCode).toBeNull();
    expect(verifier.child.exitCode).toBeNull();
  });
});
