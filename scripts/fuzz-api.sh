#!/usr/bin/env bash
# Fuzzes the HTTP API of jobs-web against its own OpenAPI document with Schemathesis:
# every operation, every check (`--checks all`), every phase (examples, coverage,
# fuzzing, and stateful runs that follow the document's links), positive and negative
# data, a fixed seed and a bounded number of examples. Exits non-zero when Schemathesis
# finds anything.
#
# The server is `jobs-api-server` (tests/src/bin/): the router with a bearer token, over
# PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/jobs_test) in a
# schema of its own that it drops when it stops, with a worker and tasks whose payloads
# have different shapes. JOBS_API_SERVER names a built binary; without it the script
# builds one (`cargo build -j 1`).
#
# Schemathesis is installed with pip, at the pinned version, in a virtualenv of its own
# (FUZZ_VENV, default ~/.cache/jobs-fuzz/schemathesis-VERSION) when it is missing.
#
# Knobs: FUZZ_SEED (default 20261204), FUZZ_MAX_EXAMPLES (default 100 an operation),
# FUZZ_REPORT_DIR (where the JUnit report goes; default target/fuzz-api), FUZZ_EXTRA_ARGS
# (more `st run` options, e.g. `--continue-on-failure` to see every failure rather than the
# first of each operation).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
export DATABASE_URL="${DATABASE_URL:-postgres://root@127.0.0.1:5432/jobs_test}"
seed="${FUZZ_SEED:-20261204}"
examples="${FUZZ_MAX_EXAMPLES:-100}"
report_dir="${FUZZ_REPORT_DIR:-target/fuzz-api}"
venv="${FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/jobs-fuzz/schemathesis-$SCHEMATHESIS_VERSION}"

say() { echo "fuzz-api: $*" >&2; }

# Schemathesis, pinned.
st="$venv/bin/st"
if ! "$st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  command -v python3 >/dev/null || { say "python3 is missing: it runs Schemathesis"; exit 1; }
  say "installing schemathesis $SCHEMATHESIS_VERSION in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  "$st" --version | grep -qF "$SCHEMATHESIS_VERSION" || { say "schemathesis did not install"; exit 1; }
fi

# The server.
server="${JOBS_API_SERVER:-}"
if [[ -z "$server" ]]; then
  cargo build -j 1 --locked -q -p jobs-tests --bin jobs-api-server
  server="target/debug/jobs-api-server"
fi
token="fuzz-$RANDOM$RANDOM$RANDOM"
status=1
work="$(mktemp -d)"
mkfifo "$work/stdin"
RUST_BACKTRACE=0 "$server" --token "$token" <"$work/stdin" >"$work/stdout" 2>"$work/stderr" &
pid=$!
# Holding the fifo open keeps the server up; closing it (on any exit) stops it.
exec 3>"$work/stdin"
stop_server() {
  exec 3>&- || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # The worker's own messages (the tasks of `jobs`' testing feature, linked in when cargo
  # builds the server for tests, panic on purpose) only matter when something failed.
  if [[ $status -ne 0 && -s "$work/stderr" ]]; then
    say "the server's last messages:"
    tail -n 40 "$work/stderr" | sed 's/^/fuzz-api: server: /' >&2
  fi
  rm -rf "$work"
}
trap stop_server EXIT

base=""
for _ in $(seq 1 300); do
  base="$(sed -n 's/^listening //p' "$work/stdout" | head -n1)"
  [[ -n "$base" ]] && break
  kill -0 "$pid" 2>/dev/null || { say "the server exited before it listened"; exit 1; }
  sleep 0.1
done
[[ -n "$base" ]] || { say "the server did not listen within 30 s"; exit 1; }
say "server at $base; schemathesis $SCHEMATHESIS_VERSION, seed $seed, $examples examples an operation"

mkdir -p "$report_dir"
status=0
"$st" --config-file scripts/fuzz-api.toml --no-color run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --mode all \
  --phases examples,coverage,fuzzing,stateful \
  --seed "$seed" \
  --max-examples "$examples" \
  --wait-for-schema 30 \
  --generation-database none \
  --workers 1 ${FUZZ_EXTRA_ARGS:-} \
  --request-timeout 10 \
  --report junit --report-junit-path "$report_dir/junit.xml" \
  || status=$?
if [[ $status -ne 0 ]]; then
  say "schemathesis found failures (exit $status); the report is above, the JUnit one in $report_dir"
fi
exit $status
