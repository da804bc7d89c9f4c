#!/usr/bin/env bash
# A RabbitMQ node and a PostgreSQL cluster of their own for the fault tests (tests/EasyIm.IntegrationTests/
# Faults), which restart them under traffic: restarting the shared instances would break every other test
# running beside them. As root, on Debian with rabbitmq-server and postgresql installed (what .ci/run sets up).
#
#   fault-infra.sh up                start both (idempotent) and print the variables the tests read
#   fault-infra.sh env               print those variables
#   fault-infra.sh restart-rabbitmq  stop and start the node's RabbitMQ application (connections drop, ports close)
#   fault-infra.sh restart-postgres  restart the cluster (fast shutdown: every connection is cut)
#   fault-infra.sh postgres-tls DIR  serve DIR's server.crt and server.key for the cluster's SSL from now on (reloaded)
#   fault-infra.sh postgres-init DB INIT SQL [NAME=value ...]
#                                    run INIT (deploy/postgres-init.sh) as the cluster's superuser for database DB, as the
#                                    postgres image would, with SQL as its roles file and the NAMEs in its environment
#   fault-infra.sh rabbitmq-tls DIR  serve DIR's server.crt and server.key on the node's TLS listener from now on
#                                    (a test's own certificate; new connections get it, running ones keep theirs)
#   fault-infra.sh down              stop both
set -euo pipefail

RABBIT_NODE=faults@localhost
RABBIT_PORT=5673
RABBIT_MANAGEMENT_PORT=15673
RABBIT_TLS_PORT=5674
RABBIT_BASE=/var/lib/rabbitmq/faults
PG_CLUSTER=faults
PG_PORT=5433

pg_version() { ls /usr/lib/postgresql | sort -V | tail -n 1; }

rabbit_env() {
  export RABBITMQ_NODENAME=$RABBIT_NODE RABBITMQ_NODE_PORT=$RABBIT_PORT RABBITMQ_DIST_PORT=25673 \
    RABBITMQ_MNESIA_BASE=$RABBIT_BASE/mnesia RABBITMQ_LOG_BASE=$RABBIT_BASE/log \
    RABBITMQ_PID_FILE=$RABBIT_BASE/faults.pid RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_BASE/enabled_plugins \
    RABBITMQ_CONFIG_FILE=$RABBIT_BASE/rabbitmq.conf
}

ctl() { rabbitmqctl -n "$RABBIT_NODE" "$@"; }

rabbit_up() {
  rabbit_env
  mkdir -p "$RABBIT_BASE/mnesia" "$RABBIT_BASE/log"
  # A TLS listener too (amqps, for BusTlsTests), on a certificate made here until a test brings its own
  # (rabbitmq-tls): the listener needs files that load when the node starts.
  mkdir -p "$RABBIT_BASE/tls"
  if [ ! -s "$RABBIT_BASE/tls/server.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
      -keyout "$RABBIT_BASE/tls/server.key" -out "$RABBIT_BASE/tls/server.crt" >/dev/null 2>&1
  fi
  # Management on a port of its own (the shared node has 15672), loopback only; statistics every
  # second so that the routing test sees a queue's counts soon after the messages went through.
  cat > "$RABBIT_BASE/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
listeners.ssl.1 = 127.0.0.1:$RABBIT_TLS_PORT
ssl_options.certfile = $RABBIT_BASE/tls/server.crt
ssl_options.keyfile = $RABBIT_BASE/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MANAGEMENT_PORT
collect_statistics_interval = 1000
CONF
  echo '[rabbitmq_management].' > "$RABBIT_BASE/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$RABBIT_BASE"
  if ! ctl status >/dev/null 2>&1; then
    rabbitmq-server -detached
  fi
  # The detached node registers with epmd a moment after the command returns.
  for i in $(seq 1 60); do
    ctl await_startup --timeout 60 >/dev/null 2>&1 && break
    ctl start_app >/dev/null 2>&1 || true
    [ "$i" = 60 ] && { echo "RabbitMQ ($RABBIT_NODE) did not start" >&2; exit 1; }
    sleep 2
  done
}

pg_up() {
  local v; v=$(pg_version)
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$v $PG_CLUSTER$" || pg_createcluster "$v" "$PG_CLUSTER" -p "$PG_PORT" >/dev/null
  pg_ctlcluster "$v" "$PG_CLUSTER" start 2>/dev/null || true
  for i in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    [ "$i" = 60 ] && { echo "PostgreSQL ($PG_CLUSTER) did not start" >&2; exit 1; }
    sleep 1
  done
  if ! su postgres -c "psql -p $PG_PORT -tAc \"SELECT 1 FROM pg_roles WHERE rolname='easyim'\"" | grep -q 1; then
    su postgres -c "psql -p $PG_PORT -qc \"CREATE ROLE easyim LOGIN PASSWORD 'easyim' CREATEDB\""
  fi
}

print_env() {
  cat <<ENV
export EASYIM_FAULT_RABBITMQ="amqp://guest:guest@127.0.0.1:$RABBIT_PORT/"
export EASYIM_FAULT_RABBITMQ_MANAGEMENT="http://guest:guest@127.0.0.1:$RABBIT_MANAGEMENT_PORT/"
export EASYIM_FAULT_RABBITMQ_TLS="amqps://guest:guest@127.0.0.1:$RABBIT_TLS_PORT/"
export EASYIM_FAULT_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=easyim;Password=easyim;Database=postgres"
export EASYIM_FAULT_CONTROL="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
ENV
}

case "${1:-}" in
  # Only the variables go to stdout (callers eval it); what starting says goes to stderr.
  up) rabbit_up >&2; pg_up >&2; print_env ;;
  env) print_env ;;
  restart-rabbitmq)
    rabbit_env
    ctl stop_app >/dev/null
    ctl start_app >/dev/null
    ctl await_startup --timeout 120 >/dev/null ;;
  restart-postgres) pg_ctlcluster "$(pg_version)" "$PG_CLUSTER" restart -m fast ;;
  postgres-tls)
    data=$(pg_lsclusters -h | awk -v v="$(pg_version)" -v c="$PG_CLUSTER" '$1==v && $2==c {print $6}')
    install -o postgres -g postgres -m 0644 "$2/server.crt" "$data/easyim-test.crt"
    install -o postgres -g postgres -m 0600 "$2/server.key" "$data/easyim-test.key"
    su postgres -c "psql -p $PG_PORT -qc \"ALTER SYSTEM SET ssl = on\" -c \"ALTER SYSTEM SET ssl_cert_file = '$data/easyim-test.crt'\" -c \"ALTER SYSTEM SET ssl_key_file = '$data/easyim-test.key'\" -c \"SELECT pg_reload_conf()\"" >/dev/null ;;
  postgres-init)
    db=$2; init=$3; sql=$4; shift 4
    # Where the postgres user can read it (a test's files may sit in a directory only root may enter).
    readable=$(mktemp /tmp/easyim-roles-XXXXXX.sql); cp "$sql" "$readable"; chmod 0644 "$readable"
    su postgres -c "env PGPORT=$PG_PORT POSTGRES_USER=postgres POSTGRES_DB=$(printf %q "$db") EASYIM_ROLES_SQL=$readable $(printf "%q " "$@") bash -s" < "$init"
    rm -f "$readable" ;;
  rabbitmq-tls)
    rabbit_env
    install -o rabbitmq -g rabbitmq -m 0644 "$2/server.crt" "$RABBIT_BASE/tls/server.crt"
    install -o rabbitmq -g rabbitmq -m 0600 "$2/server.key" "$RABBIT_BASE/tls/server.key"
    # Erlang's ssl keeps PEM files in a cache: clear it, and the next handshake reads the new ones.
    ctl eval 'ssl:clear_pem_cache().' >/dev/null ;;
  down)
    rabbit_env
    ctl stop >/dev/null 2>&1 || true
    pg_ctlcluster "$(pg_version)" "$PG_CLUSTER" stop 2>/dev/null || true ;;
  *) echo "usage: $0 up|env|restart-rabbitmq|restart-postgres|postgres-tls DIR|postgres-init DB INIT SQL [NAME=value ...]|rabbitmq-tls DIR|down" >&2; exit 2 ;;
esac
