#!/usr/bin/env bash
# Idempotent set-up behind `npm start` and `npm test`: dependencies, PostgreSQL and Redis, the database,
# the Prisma client and migrations. Fast when everything is already in place.
# --test also installs the tools the tests drive (promtool and prometheus, amtool and alertmanager, docker-compose,
# chromium) where they are missing.
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

# 0. DATABASE_URL and REDIS_URL must be URLs before anything else runs (no npm packages needed for that).
node scripts/setup-services.mjs --validate || exit 1

# 1. npm dependencies, when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 2. PostgreSQL and Redis answer (started, or created with a role of its own, only at the local default when
#    nothing answers there; see the script), and the database exists.
node scripts/setup-services.mjs || exit 1

# Runs a command silently, showing its output only when it fails.
quietly() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }; }

# 3. The Prisma client (only when the schema changed) and migrations.
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
  command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # The browser tests drive headless Chromium (playwright-core, executablePath /usr/bin/chromium).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing test tools: ${missing[*]}"
      quietly apt-get update -qq && quietly apt-get install -y -qq --no-install-recommends "${missing[@]}" || die "could not install ${missing[*]}"
      # The packages start servers of their own; the tests need only their binaries (and start their own).
      { systemctl stop prometheus || service prometheus stop || pkill -x prometheus; } >/dev/null 2>&1 || true
      { systemctl stop prometheus-alertmanager || service prometheus-alertmanager stop; } >/dev/null 2>&1 || true
    else
      die "the tests need: ${missing[*]} (Debian/Ubuntu packages); install them or run as root"
    fi
  fi
fi
say "ready"
