#!/usr/bin/env bash
# Stop the integration cloud by the PIDs that start.sh recorded in $NEAT_CLOUD_DIR/run/pids:
# each service leads its own process group, so the group is signalled (forked workers included),
# TERM first, KILL after 15 s. A recorded PID whose process is gone (or was reused) is left alone.
# --purge also drops the neat_* databases and the neat-cloud RabbitMQ virtual host.
set -uo pipefail
. "$(dirname "$0")/pids.sh"
CLOUD_DIR=${NEAT_CLOUD_DIR:-$HOME/.cache/neat-cloud}
RUN=$CLOUD_DIR/run
rm -f "$RUN/state"
pids=()
# computes first, Keystone last
shopt -s nullglob
ordered=("$RUN"/pids/compute*.pid)
for pidfile in "$RUN"/pids/*.pid; do
    case "$(basename "$pidfile")" in compute*|keystone.pid) ;; *) ordered+=("$pidfile") ;; esac
done
ordered+=("$RUN"/pids/keystone.pid)
for pidfile in "${ordered[@]}"; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    if pid=$(recorded_alive "$pidfile"); then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
        echo "stopping $name ($pid)"
        pids+=("$pid")
    fi
done
alive=()
for _ in $(seq 30); do
    alive=()
    for pid in "${pids[@]}"; do
        kill -0 -- "-$pid" 2>/dev/null && alive+=("$pid")
    done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.5
done
for pid in "${alive[@]}"; do
    echo "killing process group $pid"
    kill -KILL -- "-$pid" 2>/dev/null || true
done
rm -f "$RUN"/pids/*.pid
if [ "${1:-}" = "--purge" ]; then
    mariadb -h 127.0.0.1 -P 3306 -u root -e "DROP DATABASE IF EXISTS neat_nova_api; \
        DROP DATABASE IF EXISTS neat_nova_cell0; DROP DATABASE IF EXISTS neat_nova; \
        DROP DATABASE IF EXISTS neat_placement; DROP DATABASE IF EXISTS neat_keystone;" && echo "dropped the neat_* databases"
    rabbitmqctl -q delete_vhost neat-cloud >/dev/null 2>&1 && echo "deleted the neat-cloud vhost"
fi
exit 0
