#!/usr/bin/env bash
# Stop the integration cloud by the PIDs that start.sh recorded in $NEAT_CLOUD_DIR/run/pids:
# each service leads its own process group, so the group is signalled (workers included),
# TERM first, KILL after 15 s. --purge also drops the neat_* databases and the RabbitMQ vhost.
set -uo pipefail
CLOUD_DIR=${NEAT_CLOUD_DIR:-$HOME/.cache/neat-cloud}
RUN=$CLOUD_DIR/run
ORDER="compute1 compute2 compute3 api scheduler conductor placement keystone"
names=()
for name in $ORDER; do [ -f "$RUN/pids/$name.pid" ] && names+=("$name"); done
for pidfile in "$RUN"/pids/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    [[ " $ORDER " == *" $name "* ]] || names+=("$name")
done
rm -f "$RUN/state"
pids=()
for name in "${names[@]}"; do
    pid=$(cat "$RUN/pids/$name.pid")
    if kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; then
        echo "stopping $name ($pid)"
        pids+=("$pid")
    fi
done
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
        DROP DATABASE IF EXISTS neat_placement;" && echo "dropped the neat_* databases"
    rabbitmqctl -q delete_vhost neat-cloud >/dev/null 2>&1 && echo "deleted the neat-cloud vhost"
fi
exit 0
