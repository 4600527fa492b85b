#!/usr/bin/env bash
# Runs feedloop on one machine, as separate processes: nats-server with
# JetStream, redis-server with AOF, and the four services with the dev API key.
# Data lives in $FEEDLOOP_DATA_DIR (default .data/), so a second run resumes
# where the first stopped. Ctrl-C stops everything in order: the services
# first (intake stops taking calls, the consumers drain), then Redis (which
# flushes its AOF), then NATS.
#
# Unless DEMO=0, the load generator sends DEMO_RATE (20) synthetic events a
# second (docs/loadgen.md) and `feedctl alerts watch` shows the recovery cases
# as they open and change.
#
# Ports (defaults): NATS_PORT 4222, REDIS_PORT 6380, INTAKE_PORT 8081,
# SCORING_PORT 8082, SEGMENTATION_PORT 8083, ALERTING_PORT 8084; each
# service's /metrics is on its port + 1010 (9091...).
set -euo pipefail
cd "$(dirname "$0")/.."
if (( BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1) )); then
  echo "dev: needs bash 5.1 or newer (on macOS: brew install bash)" >&2
  exit 1
fi

scripts/deps.sh
BIN=$PWD/.bin
DATA=${FEEDLOOP_DATA_DIR:-$PWD/.data}
NATS_PORT=${NATS_PORT:-4222}
REDIS_PORT=${REDIS_PORT:-6380}
declare -A PORT=(
  [intake]=${INTAKE_PORT:-8081} [scoring]=${SCORING_PORT:-8082}
  [segmentation]=${SEGMENTATION_PORT:-8083} [alerting]=${ALERTING_PORT:-8084}
)
SERVICES=(intake scoring segmentation alerting)
mkdir -p "$DATA/nats" "$DATA/redis"

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=("$NATS_PORT" "$REDIS_PORT")
for s in "${SERVICES[@]}"; do ports+=("${PORT[$s]}" $((PORT[$s] + 1010))); done
for p in "${ports[@]}"; do
  if in_use "$p"; then
    echo "dev: port $p is already in use; stop what uses it or choose other ports (see the top of scripts/dev.sh)" >&2
    exit 1
  fi
done

# Each process's output gets a coloured name prefix. Children run in their
# own session (setsid, where the system has it) so Ctrl-C reaches only this
# script, which then stops them in order.
session=(); command -v setsid >/dev/null && session=(setsid)
colour=31
declare -A PID
start() {
  local name=$1; shift
  local tag
  tag=$(printf '\033[%dm%-12s\033[0m' "$colour" "$name")
  colour=$((colour == 36 ? 31 : colour + 1))
  "${session[@]}" "$@" > >(sed -u "s/^/$tag /") 2>&1 &
  PID[$name]=$!
}

wait_for() { # name, check command...
  local name=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then echo "dev: $name exited during start-up" >&2; return 1; fi
    sleep 0.2
  done
  echo "dev: $name did not become ready in 30s" >&2
  return 1
}

stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  echo "dev: stopping"
  for s in loadgen cases; do
    [ -n "${PID[$s]:-}" ] && { kill -TERM "${PID[$s]}" 2>/dev/null || true; wait "${PID[$s]}" 2>/dev/null || true; }
  done
  for s in intake scoring segmentation alerting; do
    [ -n "${PID[$s]:-}" ] && kill -TERM "${PID[$s]}" 2>/dev/null || true
  done
  for s in intake scoring segmentation alerting; do
    [ -n "${PID[$s]:-}" ] && wait "${PID[$s]}" 2>/dev/null || true
  done
  [ -n "${PID[redis]:-}" ] && { redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill -TERM "${PID[redis]}" 2>/dev/null || true; wait "${PID[redis]}" 2>/dev/null || true; }
  [ -n "${PID[nats]:-}" ] && { kill -TERM "${PID[nats]}" 2>/dev/null || true; wait "${PID[nats]}" 2>/dev/null || true; }
  echo "dev: stopped; data kept in $DATA"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# One thread per Go process (the services default to it; nats-server too
# here): on a machine whose cores all these processes share, more threads
# only add cross-core wake-ups (docs/performance.md). Export GOMAXPROCS to
# change it.
export GOMAXPROCS="${GOMAXPROCS:-1}"
start nats "$BIN/nats-server" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$DATA/nats"
# The append-only file is rewritten when it has grown by 1 GB, not Redis's
# default 64 MB: each rewrite forks Redis and delays about a second of
# events, and at 2,000 events/s the default would rewrite every 25 s
# (docs/performance.md).
start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" --appendonly yes --appendfsync everysec --auto-aof-rewrite-min-size 1gb --save ""
wait_for nats bash -c "exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT"
wait_for redis redis-cli -p "$REDIS_PORT" ping

export FEEDLOOP_NATS_URL="nats://127.0.0.1:$NATS_PORT"
export FEEDLOOP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export FEEDLOOP_API_KEYS="${FEEDLOOP_API_KEYS:-feedloop-dev-key=demo}"
export FEEDLOOP_LOG_FORMAT="${FEEDLOOP_LOG_FORMAT:-text}"
for s in "${SERVICES[@]}"; do
  FEEDLOOP_GRPC_ADDR="127.0.0.1:${PORT[$s]}" FEEDLOOP_METRICS_ADDR="127.0.0.1:$((PORT[$s] + 1010))" \
    start "$s" "$BIN/$s"
  wait_for "$s" "$BIN/grpcurl" -plaintext "127.0.0.1:${PORT[$s]}" grpc.health.v1.Health/Check
done

if [ "${DEMO:-1}" != 0 ]; then
  # Gentle synthetic traffic, so the first run shows tiers changing and
  # cases opening (DEMO=0 leaves the system quiet).
  start loadgen "$BIN/loadgen" --intake "127.0.0.1:${PORT[intake]}" --rate "${DEMO_RATE:-20}" --duration 0 --every 30s
  # A live view of the recovery cases, as an ops console would see them.
  start cases "$BIN/feedctl" --alerting-addr "127.0.0.1:${PORT[alerting]}" alerts watch
fi

cat <<MSG
dev: feedloop is running (data in $DATA). Submit feedback:
  .bin/grpcurl -plaintext -H 'authorization: Bearer feedloop-dev-key' \\
    -d '{"feedback":{"customer_id":"c-1","channel":"CHANNEL_WEB","nps":3,"comment":{"text":"送货太慢了"}}}' \\
    127.0.0.1:${PORT[intake]} feedloop.intake.v1.IntakeService/SubmitFeedback
dev: Ctrl-C stops everything.
MSG
wait -n "${PID[@]}" || true
echo "dev: a process exited; stopping the rest" >&2
exit 1
