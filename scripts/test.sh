#!/usr/bin/env bash
# Runs every test of the workspace. Starts the local PostgreSQL when it is not answering
# and creates the test database (DATABASE_URL, default postgres://root@127.0.0.1:5432/jobs_test).
# Extra arguments go to `cargo test`. Among the tests, tests/tests/api_fuzz.rs runs
# scripts/fuzz-api.sh (Schemathesis against the HTTP API; python3 installs it with pip in a
# virtualenv of its own when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://root@127.0.0.1:5432/jobs_test}"

if [[ "$DATABASE_URL" == postgres* ]]; then
  hostport="${DATABASE_URL#*@}"; hostport="${hostport%%/*}"
  host="${hostport%%:*}"; port="${hostport##*:}"; [[ "$port" == "$host" ]] && port=5432
  pg_up() { pg_isready -q -h "$host" -p "$port" -t 2 >/dev/null 2>&1; }
  if ! pg_up; then
    if [[ "$host" == 127.0.0.1 || "$host" == localhost ]] && command -v pg_ctlcluster >/dev/null; then
      echo "PostgreSQL is not answering on $host:$port; starting the local cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    fi
    pg_up || { echo "PostgreSQL is not answering on $host:$port" >&2; exit 1; }
  fi
  # A fresh test database each run; the tests make their own schemas inside it.
  db="${DATABASE_URL##*/}"; db="${db%%\?*}"
  base="${DATABASE_URL%/*}"
  psql -q -v ON_ERROR_STOP=1 "$base/postgres" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""
fi

# The dashboard's browser test (jobs-web/tests/dashboard.rs) drives Debian's Chromium.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "Installing chromium (apt-get) for the dashboard's browser test"
  sudo=""; [[ $EUID -ne 0 ]] && command -v sudo >/dev/null && sudo=sudo
  if ! command -v apt-get >/dev/null; then
    echo "/usr/bin/chromium is missing and apt-get is not available: install Chromium at /usr/bin/chromium" >&2
    exit 1
  fi
  log="$(mktemp)"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "installing chromium with apt-get failed (output above): the dashboard test needs /usr/bin/chromium" >&2
    exit 1
  fi
  rm -f "$log"
fi

exec cargo test --workspace --locked "$@"
