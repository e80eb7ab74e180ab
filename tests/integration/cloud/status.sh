#!/usr/bin/env bash
# Exit 0 if the integration cloud recorded in $NEAT_CLOUD_DIR/run is up: its state file says so,
# every recorded process is alive and Keystone and Nova answer. Prints one line per service.
set -uo pipefail
. "$(dirname "$0")/pids.sh"
CLOUD_DIR=${NEAT_CLOUD_DIR:-$HOME/.cache/neat-cloud}
RUN=$CLOUD_DIR/run
[ -f "$RUN/state" ] || { echo "no cloud recorded in $RUN"; exit 1; }
rc=0
for pidfile in "$RUN"/pids/*.pid; do
    [ -e "$pidfile" ] || { echo "no processes recorded"; exit 1; }
    name=$(basename "$pidfile" .pid)
    if pid=$(recorded_alive "$pidfile"); then
        echo "$name: running ($pid)"
    else
        echo "$name: not running"
        rc=1
    fi
done
curl -sf -o /dev/null http://127.0.0.1:15000/v3 || { echo "keystone does not answer"; rc=1; }
curl -s -o /dev/null http://127.0.0.1:18774/ || { echo "nova-api does not answer"; rc=1; }
exit $rc
