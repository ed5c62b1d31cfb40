#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the tests run:
# start them if they are installed but stopped. Exits non-zero with a clear message otherwise.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 30); do port_open "$1" && return 0; sleep 1; done
  return 1
}

if ! port_open 5432; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  elif command -v pg_ctl >/dev/null 2>&1 && [ -n "${PGDATA:-}" ]; then
    pg_ctl -D "$PGDATA" -l "$PGDATA/server.log" start || true
  fi
  wait_port 5432 || { echo "PostgreSQL could not be started: install it (see README)"; exit 1; }
fi

if ! port_open 6379; then
  echo "Redis is not answering on 127.0.0.1:6379; trying to start it"
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/redis-privacyportal.log || true
  fi
  wait_port 6379 || { echo "Redis could not be started: install it (see README)"; exit 1; }
fi
echo "PostgreSQL and Redis are up"
