import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { closeServer, listen } from '../../services/core/ops-http';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { spawnTs, waitFor, type Spawned } from '../support/process';
import { useTestRedis } from '../support/redis';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

const database = useTestDatabase();
const redis = useTestRedis();
let sim: RunningSimulator;
let collector: http.Server;
const spans: ReceivedSpan[] = [];
const bodies: string[] = [];
let run: Spawned | undefined;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  // A stand-in OpenTelemetry collector: it only records what the OTLP/HTTP exporter sends.
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      const payload = JSON.parse(body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: ReceivedSpan[] }>;
        }>;
      };
      for (const rs of payload.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
});
afterAll(async () => {
  run?.child.kill('SIGTERM');
  await run?.exited;
  await closeServer(collector);
  await sim?.stop();
});

describe('tracing (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  it('one trace follows an update from the poll through the queue to the Telegram calls and the decision write', async () => {
    const port = await listen(collector, 0, '127.0.0.1');
    const client = new SimClient(sim.url);
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    };
    const simBot = await client.createBot({ username: 'tracedbot' });
    await registerBot(database.prisma, loadConfig(env), simBot.token);
    run = spawnTs('services/main.ts', {
      ...env,
      ROLES: 'poller,verifier',
      METRICS_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_SERVICE_NAME: 'nezuko-test',
    });

    const owner = await client.createUser({ firstName: 'Owner' });
    const group = await client.createChat({ type: 'supergroup', title: 'Traced', ownerId: owner.id });
    const channel = await client.createChat({
      type: 'channel',
      title: 'Traced channel',
      username: `tr${randomBytes(3).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, simBot.id);
    await client.makeAdmin(group.id, simBot.id);
    await waitFor(
      async () => (await database.prisma.botInstance.findFirst({ where: { status: 'running' } })) !== null,
      30_000,
      'polling',
    );
    await client.sendMessage(group.id, { fromId: owner.id, text: `/protect @${channel.chat.username}` });
    await waitFor(
      async () => (await database.prisma.protectedGroup.count({ where: { enabled: true } })) === 1,
      20_000,
      'protection',
    );
    const user = await client.createUser({ firstName: 'Traced joiner' });
    await client.join(group.id, user.id);
    await waitFor(async () => (await client.member(group.id, user.id)).status === 'restricted', 20_000, 'the mute');

    const restrict = await waitFor(
      () => spans.find((s) => s.name === 'telegram restrictChatMember'),
      20_000,
      'the restrict span',
    );
    // A parent span ends, and is exported, after its children: wait until the page job's and the batch's have arrived.
    const trace = await waitFor(
      () => {
        const found = spans.filter((s) => s.traceId === restrict!.traceId);
        return found.some((s) => s.name === 'job page') && found.some((s) => s.name === 'poll batch')
          ? found
          : undefined;
      },
      10_000,
      'the page job and poll batch spans',
    );
    const byId = new Map(trace!.map((s) => [s.spanId, s]));
    const ancestry = (s: ReceivedSpan): string[] =>
      s.parentSpanId && byId.has(s.parentSpanId) ? [...ancestry(byId.get(s.parentSpanId)!), s.name] : [s.name];
    expect(ancestry(restrict!)).toEqual(['poll batch', 'job page', 'update', 'telegram restrictChatMember']);
    await waitFor(
      () => spans.some((s) => s.traceId === restrict!.traceId && s.name === 'record decision'),
      10_000,
      'the decision write span',
    );
    const names = new Set(spans.filter((s) => s.traceId === restrict!.traceId).map((s) => s.name));
    for (const name of [
      'poll batch',
      'job page',
      'update',
      'telegram getChatMember',
      'telegram restrictChatMember',
      'telegram sendMessage',
      'record decision',
    ])
      expect(names).toContain(name);
    expect(new Set(trace!.map((s) => s.service))).toEqual(new Set(['nezuko-test']));
    // Nothing secret travels to the collector.
    expect(bodies.join('')).not.toContain(simBot.token);
  }, 90_000);
});
