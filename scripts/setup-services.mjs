// PostgreSQL and Redis for scripts/setup.sh, safe on any machine:
// - a malformed DATABASE_URL or REDIS_URL gets one line naming the variable, at once;
// - a server that does not answer, or refuses the login, gets one line with its host and port, within seconds;
// - a server is started only when nothing answers at the local default (127.0.0.1:5432, 127.0.0.1:6379), and
//   created only when DATABASE_URL / REDIS_URL are not set at all. A PostgreSQL server set-up creates gets a
//   role `nezuko` with a random password, written to .env. Set-up never changes a role, a password or a setting
//   of a server it did not create: what it created is recorded in storage/setup-state.json.
// Runs from the project root (setup.sh cd's there). `--validate` only checks the URLs (no npm packages needed).
// SETUP_DEFAULT_DATABASE_URL / SETUP_DEFAULT_REDIS_URL replace the built-in defaults: tests point "the local
// default" at scratch ports so that they never touch the servers on 5432 and 6379.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';

const ENV_FILE = '.env';
const STATE_FILE = 'storage/setup-state.json';
const CONNECT_TIMEOUT_MS = 3_000;
const START_TIMEOUT_MS = 30_000;
const ROLE = 'nezuko';

const say = (line) => console.log(`[setup] ${line}`);
class SetupError extends Error {}
const fail = (line) => {
  throw new SetupError(line);
};

// ───────────────────────────── configuration ─────────────────────────────

/** .env fills what the environment leaves unset, and an empty value means unset: as services/core/config reads it. */
function readEnv() {
  let file = {};
  try {
    file = parseEnv(fs.readFileSync(ENV_FILE, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') fail(`cannot read ${ENV_FILE}: ${err.message}`);
  }
  return (name) => (name in process.env ? process.env[name] : file[name]) || undefined;
}

const SERVICES = {
  postgres: {
    title: 'PostgreSQL',
    variable: 'DATABASE_URL',
    protocols: ['postgresql:', 'postgres:'],
    example: 'postgresql://user:password@host:5432/database',
    defaultUrl: process.env.SETUP_DEFAULT_DATABASE_URL || 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko',
    defaultPort: 5432,
  },
  redis: {
    title: 'Redis',
    variable: 'REDIS_URL',
    protocols: ['redis:', 'rediss:'],
    example: 'redis://host:6379',
    defaultUrl: process.env.SETUP_DEFAULT_REDIS_URL || 'redis://127.0.0.1:6379',
    defaultPort: 6379,
  },
};

/** The URL in use for a service, or the one line that says what is wrong with it. */
function parseUrl(service, raw) {
  const { variable, protocols, example } = service;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `${variable} is not a URL; expected ${example}` };
  }
  if (!protocols.includes(url.protocol))
    return {
      problem: `${variable} must start with ${protocols.map((p) => `${p}//`).join(' or ')} (not ${url.protocol}//); expected ${example}`,
    };
  if (!url.hostname) return { problem: `${variable} names no host; expected ${example}` };
  return { url };
}

const portOf = (service, url) => Number(url.port || service.defaultPort);
const where = (service, url) => `${url.hostname}:${portOf(service, url)}`;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** The local default server: loopback, on the default URL's port. Only there may set-up start a server. */
const isLocalDefault = (service, url) =>
  LOOPBACK.has(url.hostname) && portOf(service, url) === portOf(service, new URL(service.defaultUrl));

// ───────────────────────────── probes ─────────────────────────────

/**
 * ok | no-database (login works, database missing) | starting (up, not ready yet) | down (nothing listens)
 * | refused (login refused) | timeout | error
 */
async function probePostgres(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    return { state: 'ok' };
  } catch (err) {
    if (err.code === '3D000') return { state: 'no-database' };
    // 57P03 cannot_connect_now: the server is starting up or recovering.
    if (err.code === '57P03') return { state: 'starting', detail: err.message };
    if (err.code === 'ECONNREFUSED') return { state: 'down', detail: 'connection refused' };
    if (['28P01', '28000'].includes(err.code)) return { state: 'refused', detail: err.message };
    if (/timeout/i.test(err.message)) return { state: 'timeout' };
    if (['ENOTFOUND', 'EAI_AGAIN'].includes(err.code)) return { state: 'error', detail: 'unknown host name' };
    return { state: 'error', detail: err.code ? `${err.code} ${err.message}` : err.message };
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(url) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: portOf(SERVICES.redis, url) });
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done({ state: 'timeout' }));
    socket.once('error', (err) => {
      if (err.code === 'ECONNREFUSED') done({ state: 'down', detail: 'connection refused' });
      else if (['ENOTFOUND', 'EAI_AGAIN'].includes(err.code)) done({ state: 'error', detail: 'unknown host name' });
      else done({ state: 'error', detail: err.code ?? err.message });
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      // -NOAUTH also proves a Redis answers; authenticating is the application's business.
      // -LOADING: a restarted Redis reads its dataset back before it answers commands.
      const answer = data.toString().trim();
      if (/^(\+PONG|-NOAUTH)/.test(answer)) done({ state: 'ok' });
      else if (answer.startsWith('-LOADING')) done({ state: 'starting', detail: answer.slice(1, 60) });
      else done({ state: 'error', detail: `unexpected answer "${answer.slice(0, 60)}"` });
    });
  });
}

const probe = (name, url) => (name === 'postgres' ? probePostgres(url) : probeRedis(url));

/** The one line for a server that cannot be used. */
function problemLine(service, url, result) {
  const at = where(service, url);
  switch (result.state) {
    case 'down':
      return `${service.title}: nothing answers at ${at} (connection refused); start it, or fix ${service.variable}`;
    case 'timeout':
      return `${service.title}: no answer from ${at} within ${CONNECT_TIMEOUT_MS / 1000} s; check ${service.variable} and that the host is reachable`;
    case 'starting':
      return `${service.title} at ${at} was still starting after ${START_TIMEOUT_MS / 1000} s (${result.detail}); wait for it and run again`;
    case 'refused':
      return `${service.title} at ${at} refused the login of "${decodeURIComponent(url.username)}": ${result.detail}. Set ${service.variable} (for example in .env) to a role that may log in; set-up does not change roles or passwords`;
    default:
      return `${service.title} at ${at} cannot be used (${result.detail}); check ${service.variable}`;
  }
}

// ───────────────────────────── helpers ─────────────────────────────

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...options });
  if (result.error) return { ok: false, output: result.error.message };
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}
const has = (command) => run('sh', ['-c', `command -v ${command}`]).ok;
const isRoot = () => process.getuid?.() === 0;
const aptAvailable = () => isRoot() && has('apt-get');
const dockerAvailable = () => has('docker') && run('docker', ['info'], { timeout: 5_000 }).ok;

function aptInstall(packages) {
  say(`installing ${packages.join(' ')} with apt-get`);
  const update = run('apt-get', ['update', '-qq']);
  const install =
    update.ok &&
    run('apt-get', ['install', '-y', '-qq', ...packages], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  if (!install?.ok)
    fail(`apt-get could not install ${packages.join(' ')}: ${(install || update).output.split('\n').at(-1)}`);
}

function readState() {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return {};
  }
}

function recordState(name, entry) {
  const state = readState();
  state[name] = entry;
  fs.mkdirSync(path.dirname(STATE_FILE), { recursive: true });
  fs.writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** Sets KEY=value lines in .env (replacing earlier ones), after a comment saying where they came from. */
function writeEnv(values, comment) {
  const existed = fs.existsSync(ENV_FILE);
  let text = existed ? fs.readFileSync(ENV_FILE, 'utf8') : '';
  const keys = Object.keys(values);
  text = text
    .split('\n')
    .filter((line) => !keys.some((key) => new RegExp(`^\\s*(export\\s+)?${key}\\s*=`).test(line)))
    .join('\n');
  if (text && !text.endsWith('\n')) text += '\n';
  text += `# ${comment}\n${keys.map((key) => `${key}=${values[key]}`).join('\n')}\n`;
  // It holds a password: readable by its owner only when set-up creates it.
  fs.writeFileSync(ENV_FILE, text, existed ? {} : { mode: 0o600 });
  for (const key of keys) process.env[key] = values[key];
}

async function waitUntilUp(name, url) {
  const started = Date.now();
  let result;
  do {
    result = await probe(name, url);
    if (!['down', 'timeout', 'starting'].includes(result.state)) return result;
    await new Promise((r) => setTimeout(r, 300));
  } while (Date.now() - started < START_TIMEOUT_MS);
  return result;
}

const newPassword = () => randomBytes(24).toString('base64url');

function composeUp(service) {
  const up = run('docker', ['compose', 'up', '-d', service], { stdio: ['ignore', 'inherit', 'pipe'] });
  if (!up.ok) fail(`docker compose up ${service} failed: ${up.output.split('\n').at(-1)}`);
}

// ───────────────────────────── PostgreSQL ─────────────────────────────

/** initdb, pg_ctl…: on PATH, or Debian's versioned directories (newest first). */
function postgresBinDir() {
  const onPath = run('sh', ['-c', 'command -v initdb']);
  if (onPath.ok) return path.dirname(onPath.output);
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base)
    ? fs.readdirSync(base).filter((v) => fs.existsSync(`${base}/${v}/bin/initdb`))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? `${base}/${versions[0]}/bin` : undefined;
}

/** PostgreSQL refuses to run as root: as root, set-up's own cluster belongs to the `postgres` user. */
function asClusterOwner(command, args, options) {
  if (!isRoot()) return run(command, args, options);
  return run('runuser', ['-u', 'postgres', '--', command, ...args], options);
}

/** Where set-up keeps its own cluster: storage/postgres, or (as root, when user postgres cannot reach that) under /var/lib/postgresql. */
function ownClusterDir() {
  const inProject = path.resolve('storage/postgres');
  if (!isRoot()) return inProject;
  if (run('getent', ['passwd', 'postgres']).ok === false)
    fail(
      'running as root, set-up needs the user "postgres" to own its PostgreSQL cluster (or run it as a normal user)',
    );
  fs.mkdirSync(path.dirname(inProject), { recursive: true });
  fs.mkdirSync(inProject, { recursive: true, mode: 0o700 });
  run('chown', ['postgres:', inProject]);
  if (asClusterOwner('test', ['-w', inProject]).ok) return inProject;
  fs.rmdirSync(inProject);
  return `/var/lib/postgresql/nezuko-${createHash('sha256').update(process.cwd()).digest('hex').slice(0, 8)}`;
}

function startOwnCluster(bin, dir) {
  const started = asClusterOwner(`${bin}/pg_ctl`, ['-D', dir, '-l', `${dir}/server.log`, '-w', '-t', '30', 'start']);
  if (!started.ok)
    fail(`could not start PostgreSQL in ${dir}: ${started.output.split('\n').at(-1)} (see ${dir}/server.log)`);
}

/** A cluster of set-up's own (initdb): role `nezuko`, a random password, the URL's port, loopback only. */
function createOwnCluster(bin, port, database) {
  const dir = ownClusterDir();
  say(`creating a PostgreSQL cluster of its own in ${dir} (port ${port}, role ${ROLE})`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (isRoot()) run('chown', ['postgres:', dir]);
  const password = newPassword();
  // initdb wants an empty directory: the password file waits in a private temporary one.
  const secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'nezuko-setup-'));
  const pwfile = path.join(secrets, 'password');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot()) run('chown', ['-R', 'postgres:', secrets]);
  const init = asClusterOwner(`${bin}/initdb`, [
    '-D',
    dir,
    '-U',
    ROLE,
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  fs.rmSync(secrets, { recursive: true, force: true });
  if (!init.ok) fail(`initdb failed in ${dir}: ${init.output.split('\n').at(-1)}`);
  // Its own settings, in its own configuration file: loopback TCP on the URL's port, no socket directory to share.
  fs.appendFileSync(
    path.join(dir, 'postgresql.conf'),
    `\n# set by nezuko scripts/setup.sh\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n`,
  );
  recordState('postgres', { kind: 'cluster', dir, bin });
  writeEnv(
    { DATABASE_URL: `postgresql://${ROLE}:${password}@127.0.0.1:${port}/${database}` },
    `PostgreSQL cluster created by scripts/setup.sh in ${dir} (role ${ROLE})`,
  );
  startOwnCluster(bin, dir);
}

/** Debian's clusters on this port (pg_lsclusters): version, name, status. */
function debianClusters(port) {
  if (!has('pg_lsclusters')) return [];
  return run('pg_lsclusters', ['--no-header'])
    .output.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && Number(f[2]) === port)
    .map(([version, name, , status]) => ({ version, name, status }));
}

/** Nothing answers at the local default: start the server set-up created, or an installed one, or create one. */
async function startPostgres(url, urlWasSet) {
  const port = portOf(SERVICES.postgres, url);
  const database = decodeURIComponent(url.pathname.slice(1)) || 'nezuko';
  const state = readState().postgres;
  if (state?.kind === 'cluster' && fs.existsSync(`${state.dir}/PG_VERSION`)) {
    say(`starting PostgreSQL (set-up's cluster in ${state.dir})`);
    return startOwnCluster(state.bin, state.dir);
  }
  if (state?.kind === 'docker' && dockerAvailable()) {
    say('starting postgres with docker compose');
    return composeUp('postgres');
  }
  // An installed cluster that is merely stopped (after a reboot, say) is started, and nothing else.
  const installed = debianClusters(port).find((c) => c.status === 'down');
  if (installed) {
    const cluster = `${installed.version}/${installed.name}`;
    if (!isRoot())
      fail(
        `PostgreSQL ${cluster} is installed for port ${port} but stopped: start it (pg_ctlcluster ${installed.version} ${installed.name} start)`,
      );
    say(`starting PostgreSQL ${cluster}`);
    const started = run('pg_ctlcluster', ['--skip-systemctl-redirect', installed.version, installed.name, 'start']);
    if (!started.ok) fail(`could not start PostgreSQL ${cluster}: ${started.output.split('\n').at(-1)}`);
    return;
  }
  // Creating a server is for a machine that has none and a URL nobody chose: set-up then owns it and its password.
  if (urlWasSet)
    fail(
      `PostgreSQL: nothing answers at ${where(SERVICES.postgres, url)} and DATABASE_URL is set, so set-up does not create a server; start yours, or remove DATABASE_URL to let set-up create one`,
    );
  if (dockerAvailable()) {
    const password = newPassword();
    say('starting postgres with docker compose (password written to .env)');
    writeEnv(
      { POSTGRES_PASSWORD: password, DATABASE_URL: `postgresql://postgres:${password}@127.0.0.1:${port}/nezuko` },
      'PostgreSQL started by scripts/setup.sh with docker compose',
    );
    recordState('postgres', { kind: 'docker' });
    return composeUp('postgres');
  }
  let bin = postgresBinDir();
  if (!bin && aptAvailable()) {
    aptInstall(['postgresql']);
    bin = postgresBinDir();
    // Debian's package creates (and may start) a cluster of its own on the first free port: installed by
    // set-up just now, it is set-up's; it gets the role of its own like any cluster set-up creates.
    const main = debianClusters(port)[0];
    if (main) return adoptInstalledCluster(main, port, database);
  }
  if (!bin) fail('PostgreSQL is not installed: install it (or Docker), or set DATABASE_URL to a server you have');
  createOwnCluster(bin, port, database);
}

/** A Debian cluster set-up installed itself: role `nezuko` with a random password, over the local socket as user postgres. */
function adoptInstalledCluster(cluster, port, database) {
  if (cluster.status === 'down')
    run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, 'start']);
  const password = newPassword();
  const sql = `CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${password}'`;
  let created;
  for (
    let i = 0;
    i < 20 && !(created = run('runuser', ['-u', 'postgres', '--', 'psql', '-p', String(port), '-qc', sql])).ok;
    i++
  )
    spawnSync('sleep', ['0.5']);
  if (!created.ok)
    fail(`could not create role ${ROLE} in the PostgreSQL set-up installed: ${created.output.split('\n').at(-1)}`);
  recordState('postgres', { kind: 'debian', cluster: `${cluster.version}/${cluster.name}` });
  writeEnv(
    { DATABASE_URL: `postgresql://${ROLE}:${password}@127.0.0.1:${port}/${database}` },
    `PostgreSQL ${cluster.version}/${cluster.name} installed by scripts/setup.sh (role ${ROLE})`,
  );
}

async function createDatabase(url) {
  const { default: pg } = await import('pg');
  const database = decodeURIComponent(url.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } catch (err) {
    if (err.code !== '42P04')
      fail(
        `PostgreSQL at ${where(SERVICES.postgres, url)}: cannot create database "${database}" as "${decodeURIComponent(url.username)}" (${err.message}); create it, or use a role that may`,
      );
  } finally {
    await client.end().catch(() => {});
  }
}

// ───────────────────────────── Redis ─────────────────────────────

function startOwnRedis(port) {
  const dir = path.resolve('storage/redis');
  fs.mkdirSync(dir, { recursive: true });
  say(`starting redis-server on 127.0.0.1:${port} (data in ${path.relative('.', dir)})`);
  // Queued jobs must survive a restart (append-only file) and never be evicted.
  const started = run('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--daemonize',
    'yes',
    '--dir',
    dir,
    '--pidfile',
    `${dir}/redis.pid`,
    '--logfile',
    `${dir}/redis.log`,
    '--appendonly',
    'yes',
    '--maxmemory-policy',
    'noeviction',
  ]);
  if (!started.ok) fail(`could not start redis-server: ${started.output.split('\n').at(-1)}`);
  recordState('redis', { kind: 'own', dir });
}

async function startRedis(url, urlWasSet) {
  const port = portOf(SERVICES.redis, url);
  const state = readState().redis;
  if (state?.kind === 'docker' && dockerAvailable()) return composeUp('redis');
  if (state?.kind === 'own' && has('redis-server')) return startOwnRedis(port);
  if (urlWasSet)
    fail(
      `Redis: nothing answers at ${where(SERVICES.redis, url)} and REDIS_URL is set, so set-up does not start one; start yours, or remove REDIS_URL to let set-up start one`,
    );
  if (dockerAvailable()) {
    say('starting redis with docker compose');
    recordState('redis', { kind: 'docker' });
    return composeUp('redis');
  }
  if (!has('redis-server')) {
    if (!aptAvailable())
      fail('Redis is not installed: install redis-server (or Docker), or set REDIS_URL to a server you have');
    aptInstall(['redis-server']);
    // Debian's package may start its own service on 6379.
    if ((await probeRedis(url)).state === 'ok') return recordState('redis', { kind: 'debian' });
  }
  startOwnRedis(port);
}

// ───────────────────────────── main ─────────────────────────────

async function main() {
  const env = readEnv();
  const urls = {};
  const problems = [];
  for (const [name, service] of Object.entries(SERVICES)) {
    const raw = env(service.variable);
    const parsed = parseUrl(service, raw ?? service.defaultUrl);
    if (parsed.problem) problems.push(parsed.problem);
    else urls[name] = { url: parsed.url, wasSet: raw !== undefined };
  }
  if (problems.length) fail(problems.join('\n[setup] error: '));
  if (process.argv.includes('--validate')) return;

  const names = Object.keys(SERVICES);
  const results = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await probe(name, urls[name].url)])),
  );
  const lines = [];
  for (const name of names) {
    const service = SERVICES[name];
    const { url, wasSet } = urls[name];
    if (results[name].state === 'down' && isLocalDefault(service, url)) {
      try {
        if (name === 'postgres') await startPostgres(url, wasSet);
        else await startRedis(url, wasSet);
      } catch (err) {
        if (!(err instanceof SetupError)) throw err;
        lines.push(err.message);
        continue;
      }
      // Starting may have written a new URL (a role of its own) to .env.
      urls[name].url = parseUrl(service, env(service.variable) ?? service.defaultUrl).url ?? url;
      results[name] = await waitUntilUp(name, urls[name].url);
    } else if (results[name].state === 'starting') {
      results[name] = await waitUntilUp(name, url);
    }
    if (!['ok', 'no-database'].includes(results[name].state))
      lines.push(problemLine(service, urls[name].url, results[name]));
  }
  if (lines.length) fail(lines.join('\n[setup] error: '));
  if (results.postgres.state === 'no-database') await createDatabase(urls.postgres.url);
}

main().then(
  () => process.exit(0),
  (err) => {
    // Expected problems are one line each; anything else is a bug in this script and keeps its stack.
    console.error(err instanceof SetupError ? `[setup] error: ${err.message}` : err);
    process.exit(1);
  },
);
