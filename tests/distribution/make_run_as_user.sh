#!/usr/bin/env bash
# CI (as root): on a fresh clone owned by a throwaway user without sudo,
# `make run` installs what the demo needs and serves it; the demo's smoke
# test then passes against it. Bounded: the install and start get
# RUN_SECONDS, the smoke test SMOKE_SECONDS; the user and its files are
# removed afterwards.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
RUN_SECONDS="${RUN_SECONDS:-900}"
SMOKE_SECONDS="${SMOKE_SECONDS:-180}"

if [ "$(id -u)" != 0 ]; then
  echo "make_run_as_user.sh: needs root to create a throwaway user" >&2
  exit 1
fi

USER_NAME="fjdemo$$"
HOME_DIR="$(mktemp -d /tmp/flowjobs-user-XXXXXX)"
CLONE="$HOME_DIR/flowjobs"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$HOME_DIR/make-run.log"
PID=""

cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$PID" 2>/dev/null || true
  fi
  userdel "$USER_NAME" 2>/dev/null || true
  rm -rf "$HOME_DIR"
}
trap cleanup EXIT

useradd --no-create-home --home-dir "$HOME_DIR" --shell /bin/bash "$USER_NAME"
git clone --quiet "$REPO" "$CLONE"
chown -R "$USER_NAME:" "$HOME_DIR"
chmod 700 "$HOME_DIR"

# The user's own environment: no root files, no FLOWJOBS_* of the CI run.
setsid runuser -u "$USER_NAME" -- env -i HOME="$HOME_DIR" PATH=/usr/local/bin:/usr/bin:/bin \
  LANG=C.UTF-8 timeout "$RUN_SECONDS" make -C "$CLONE" run DEMO_ARGS="--port $PORT" \
  >"$LOG" 2>&1 &
PID=$!

URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 "$RUN_SECONDS"); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { echo "make run exited:"; cat "$LOG"; exit 1; }
  sleep 1
done
curl -fsS "$URL/healthz" >/dev/null || { echo "make run did not serve:"; cat "$LOG"; exit 1; }

if [ -e "$CLONE/.venv/.installed-stamp" ]; then
  echo "make run installed the development extras" >&2
  exit 1
fi
KEY="$(sed -n 's/^ *export KEY=//p' "$LOG" | head -1)"
FLOWJOBS_URL="$URL" FLOWJOBS_KEY="$KEY" timeout "$SMOKE_SECONDS" \
  "$CLONE/.venv/bin/python" "$CLONE/tests/distribution/smoke.py"
echo "make run as the non-root user $USER_NAME: served $URL, smoke test passed"
