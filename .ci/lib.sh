# Shared by `make up` (.ci/up) and `make test` (.ci/test). Sourced, not run.
# Brings up what the project needs on a Debian 12 machine: Debian packages, the virtualenv,
# and, unless DATABASE_URL / REDIS_URL are set, a project-local Postgres cluster and Redis
# under var/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PG_PORT="${BO_PG_PORT:-54329}"
REDIS_PORT="${BO_REDIS_PORT:-63799}"
STARTED_PG=0
STARTED_REDIS=0
PG_DATA=""

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

# Debian packages the project needs. $1: "run" or "test" (test adds the browser).
ensure_debian_packages() {
  local want=(libmagic1 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core curl make
    tesseract-ocr tesseract-ocr-eng fonts-ocr-b)
  command -v python3 >/dev/null 2>&1 || want+=(python3)
  python3 -c "import ensurepip, venv" >/dev/null 2>&1 || want+=(python3-venv)
  [ -n "${REDIS_URL:-}" ] || want+=(redis-server)
  [ -n "${DATABASE_URL:-}" ] || [ -n "$(pg_bindir)" ] || want+=(postgresql)
  [ "${1:-run}" = "test" ] && want+=(chromium docker-compose)
  local missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "Missing Debian packages. Run: sudo apt-get install -y ${missing[*]}"
  fi
}

ensure_venv() {
  local stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  say "Installing Python dependencies into .venv"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -e "$ROOT[dev]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

# Run a command as the owner of var/pg (Postgres refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives: var/pg, unless (as root) the postgres user cannot reach var/
# (a checkout under /root, say); then a folder under /var/tmp named after this checkout.
pg_home() {
  mkdir -p "$VAR"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
    echo "/var/tmp/brokerage-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
  else
    echo "$VAR"
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sized like the production compose file: a commission period's million lines are written in
# one go, and Postgres's defaults (128 MB of buffers, a checkpoint every GB of WAL) make that
# half again as slow.
PG_TUNING="-c shared_buffers=${BO_PG_SHARED_BUFFERS:-2GB} -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_compression=on"

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then return 0; fi
  local bin; bin="$(pg_bindir)"; [ -n "$bin" ] || die "PostgreSQL binaries not found"
  local home; home="$(pg_home)"
  local data="$home/pg" sock="$home/run"
  PG_DATA="$data"
  mkdir -p "$VAR/log" "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    say "Creating a Postgres cluster in $data"
    mkdir -p "$data"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$data" "$sock"; fi
    as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$sock"; fi
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port_busy "$PG_PORT" && die "Port $PG_PORT is taken by another program: stop it, or set BO_PG_PORT (or DATABASE_URL)"
    say "Starting Postgres on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$data" -l "$sock/postgres.log" -w -t 60 start \
      -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c fsync=${BO_PG_FSYNC:-on} $PG_TUNING" >/dev/null
    STARTED_PG=1
  fi
  as_pg "$bin/psql" -h "$sock" -p "$PG_PORT" -U postgres -qAtc \
    "SELECT 1 FROM pg_roles WHERE rolname='brokerage'" | grep -q 1 ||
    as_pg "$bin/psql" -h "$sock" -p "$PG_PORT" -U postgres -qc \
      "CREATE ROLE brokerage LOGIN CREATEDB PASSWORD 'brokerage'" >/dev/null
  as_pg "$bin/psql" -h "$sock" -p "$PG_PORT" -U postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname='brokerage'" | grep -q 1 ||
    as_pg "$bin/createdb" -h "$sock" -p "$PG_PORT" -U postgres -O brokerage brokerage
  export DATABASE_URL="postgres://brokerage:brokerage@127.0.0.1:$PG_PORT/brokerage"
}

stop_postgres() {
  [ "$STARTED_PG" -eq 1 ] || return 0
  as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
}

ensure_redis() {
  # $1: the Redis database number the caller uses (the demo 0, the tests 1).
  if [ -n "${REDIS_URL:-}" ]; then return 0; fi
  mkdir -p "$VAR/redis" "$VAR/run" "$VAR/log"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    port_busy "$REDIS_PORT" && die "Port $REDIS_PORT is taken by another program: stop it, or set BO_REDIS_PORT (or REDIS_URL)"
    say "Starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" \
      --appendonly yes --save "" --daemonize yes --pidfile "$VAR/run/redis.pid" \
      --logfile "$VAR/log/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    STARTED_REDIS=1
  fi
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/${1:-0}"
}

stop_redis() {
  [ "$STARTED_REDIS" -eq 1 ] || return 0
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
