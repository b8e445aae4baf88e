// Benchmark: Bot API calls per second the simulator answers (getChatMember, one keep-alive client).
// The simulator runs in this process; the client runs in a child Node process (the machine has 2 cores,
// so server and client each get one; a worker thread measured ~25% slower because both share one
// process's GC and libuv threadpool), with several requests in flight on one keep-alive agent.
// Usage: npm run bench:sim [-- --seconds 5 --concurrency 32]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startSimulator } from '../../sim/server';
import { joinSilently } from '../../sim/actions';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    members: { type: 'string', default: '10000' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const memberCount = Number(values.members);

const sim = await startSimulator({ port: 0 });
const { world } = sim;
const bot = world.createBot({ username: 'bench_bot' });
const owner = world.createUser();
const group = world.createChat({ type: 'supergroup', title: 'Bench group', ownerId: owner.id });
world.writeMember(group, bot.bot.user.id, {
  status: 'administrator',
  untilDate: 0,
  isMember: true,
  rights: { can_restrict_members: true } as never,
});
const userIds: number[] = [];
for (let i = 0; i < memberCount; i++) userIds.push(world.createUser().id);
joinSilently(world, group.chat.id, userIds.slice(0, Math.floor(memberCount / 2)));

// Plain JS so the client process needs no TypeScript loader.
const clientSource = `
const workerData = JSON.parse(process.env.SIM_BENCH_INPUT);
const http = require('node:http');
const { url, token, chatId, userIds, seconds, concurrency } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
let done = 0, errors = 0, i = 0;
const deadline = performance.now() + seconds * 1000;
function call() {
  return new Promise((resolve) => {
    const body = JSON.stringify({ chat_id: chatId, user_id: userIds[i++ % userIds.length] });
    const req = http.request({ host: target.hostname, port: target.port, path: '/bot' + token + '/getChatMember', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(chunks).toString());
        if (parsed.ok) done++; else errors++;
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
    req.end(body);
  });
}
async function loop() { while (performance.now() < deadline) await call(); }
const started = performance.now();
Promise.all(Array.from({ length: concurrency }, loop)).then(() => {
  process.stdout.write(JSON.stringify({ done, errors, elapsedMs: performance.now() - started }));
  agent.destroy();
});
`;

const serverCpuBefore = process.cpuUsage();
const client = spawn(process.execPath, ['-e', clientSource], {
  env: {
    ...process.env,
    SIM_BENCH_INPUT: JSON.stringify({
      url: sim.url,
      token: bot.bot.token,
      chatId: group.chat.id,
      userIds,
      seconds,
      concurrency,
    }),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
const exitCode = await new Promise<number | null>((resolve) => client.once('close', resolve));
if (exitCode !== 0) throw new Error(`benchmark client exited with ${exitCode}`);
const result = JSON.parse(output) as { done: number; errors: number; elapsedMs: number };
// The server's own CPU time tells its capacity independently of the client and of other load on the machine.
const serverCpu = process.cpuUsage(serverCpuBefore);
const serverCpuSeconds = (serverCpu.user + serverCpu.system) / 1e6;
const perSecond = Math.round(result.done / (result.elapsedMs / 1000));
const counters = bot.calls.counters;
console.log(
  `sim getChatMember: ${perSecond} calls/s (${result.done} ok, ${result.errors} errors in ${(result.elapsedMs / 1000).toFixed(1)} s, ` +
    `concurrency ${concurrency}, keep-alive, ${memberCount} users; server logged ${counters.total} calls) — goal ≥ 10000/s: ${perSecond >= 10_000 ? 'met' : 'NOT met'}`,
);
console.log(
  `sim server CPU: ${serverCpuSeconds.toFixed(2)} s for ${result.done + result.errors} calls → capacity ≈ ${Math.round((result.done + result.errors) / serverCpuSeconds)} calls per CPU-second ` +
    `(${Math.round((serverCpuSeconds / (result.elapsedMs / 1000)) * 100)}% of one core busy)`,
);
await sim.stop();
