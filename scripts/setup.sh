#!/usr/bin/env bash
# Idempotent set-up behind `npm start` and `npm test`: dependencies, PostgreSQL and Redis, the database,
# the Prisma client and migrations. Fast when everything is already in place.
# --test also installs the tools the tests drive (promtool, docker-compose, chromium) where they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Hosts that reach only the npm registry cannot download Prisma's schema engine; the WASM stand-in next to
# this project (see README) serves the CLI instead. Must be set before npm installs prisma.
if [ -z "${PRISMA_SCHEMA_ENGINE_BINARY:-}" ] && [ -f ../shared/prisma-offline/schema-engine.mjs ]; then
  export PRISMA_SCHEMA_ENGINE_BINARY="$(cd ../shared/prisma-offline && pwd)/schema-engine.mjs"
fi

command -v node >/dev/null || die "Node.js 20 or newer is required (https://nodejs.org)"

# 1. npm dependencies, when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 2. PostgreSQL and Redis: use what answers; else docker compose; else apt-get (Debian/Ubuntu as root).
set -a; [ -f .env ] && . ./.env; set +a
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres:postgres@127.0.0.1:5432/nezuko}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

services_up() { node scripts/check-services.mjs "$@" >/dev/null 2>&1; }
# Runs a command silently, showing its output only when it fails.
quietly() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }; }

start_with_apt() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null; then
    say "installing postgresql and redis-server with apt-get"
    apt-get update -qq && apt-get install -y -qq postgresql redis-server >/dev/null
  fi
  if ! services_up --postgres; then
    local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    # The default URL carries a password; give the postgres role that password (trust setups ignore it).
    for _ in $(seq 1 20); do su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if ! services_up --redis; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --maxmemory-policy noeviction --dir /var/lib/redis --logfile /var/log/redis/nezuko.log
  fi
}

if ! services_up; then
  if docker info >/dev/null 2>&1; then
    say "starting postgres and redis with docker compose"
    docker compose up -d postgres redis
  elif ! start_with_apt; then
    node scripts/check-services.mjs || true
    die "PostgreSQL and Redis are needed: install them (or Docker), or set DATABASE_URL and REDIS_URL"
  fi
  for _ in $(seq 1 60); do services_up && break; sleep 0.5; done
  services_up || { node scripts/check-services.mjs || true; die "PostgreSQL or Redis did not come up"; }
fi

# 3. The database, the Prisma client (only when the schema changed) and migrations.
node scripts/check-services.mjs --create-database >/dev/null
stamp=node_modules/.cache/nezuko-prisma-schema.sha256
mkdir -p "$(dirname "$stamp")"
sum=$(cat prisma/schema.prisma package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f services/core/db/generated/client.ts ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  say "generating the Prisma client"
  quietly npx prisma generate || die "prisma generate failed"
  echo "$sum" >"$stamp"
fi
quietly npx prisma migrate deploy || die "prisma migrate deploy failed"

# 4. Tools the tests use, from Debian's packages.
if [ "${1:-}" = "--test" ]; then
  missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # The browser tests drive headless Chromium (playwright-core, executablePath /usr/bin/chromium).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing test tools: ${missing[*]}"
      quietly apt-get update -qq && quietly apt-get install -y -qq --no-install-recommends "${missing[@]}" || die "could not install ${missing[*]}"
      # The prometheus package starts a server; the tests need only promtool.
      { systemctl stop prometheus || service prometheus stop || pkill -x prometheus; } >/dev/null 2>&1 || true
    else
      die "the tests need: ${missing[*]} (Debian/Ubuntu packages); install them or run as root"
    fi
  fi
fi
say "ready"
