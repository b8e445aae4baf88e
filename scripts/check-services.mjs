// Checks that PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) answer; prints one line per service.
// --postgres / --redis check just one; --create-database creates DATABASE_URL's database when missing.
import net from 'node:net';
import pg from 'pg';

const args = new Set(process.argv.slice(2));
const only = args.has('--postgres') ? 'postgres' : args.has('--redis') ? 'redis' : undefined;
const databaseUrl = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko');
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const where = (u) => `${u.hostname}:${u.port}`;

async function postgres() {
  const database = decodeURIComponent(databaseUrl.pathname.slice(1)) || 'postgres';
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    if (args.has('--create-database')) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
}

function redis() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.end();
      // -NOAUTH also proves a server answers; authentication is the app's business.
      /^(\+PONG|-NOAUTH)/.test(data.toString()) ? resolve() : reject(new Error(data.toString().trim()));
    });
  });
}

let ok = true;
for (const [name, check, url] of [['postgres', postgres, databaseUrl], ['redis', redis, redisUrl]]) {
  if (only && only !== name) continue;
  try {
    await check();
    console.log(`${name}: ok (${where(url)})`);
  } catch (err) {
    ok = false;
    console.log(`${name}: not reachable at ${where(url)} (${err.code ?? err.message})`);
  }
}
process.exit(ok ? 0 : 1);
