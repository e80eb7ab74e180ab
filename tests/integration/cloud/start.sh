#!/usr/bin/env bash
# Bring up the integration cloud from scratch on loopback: Keystone :15000, Placement :18778,
# Nova API :18774, nova-conductor, nova-scheduler and the fake computes listed in etc/computes.
# Reuses the machine's RabbitMQ (127.0.0.1:5672 guest/guest, virtual host neat-cloud) and MariaDB
# (127.0.0.1:3306 root, databases neat_*), both recreated empty here. Needs install.sh first.
# PIDs in $NEAT_CLOUD_DIR/run/pids (each service leads its own process group), logs in run/log.
# Exits 0 at once if the cloud recorded there is already up; stop.sh stops it.
set -euo pipefail
HARNESS=$(cd "$(dirname "$0")" && pwd)
. "$HARNESS/pids.sh"
CLOUD_DIR=${NEAT_CLOUD_DIR:-$HOME/.cache/neat-cloud}
CLOUD_DIR=$(cd "$CLOUD_DIR" && pwd)
RUN=$CLOUD_DIR/run
PORTS="15000 18774 18778"
export OS_CLIENT_CONFIG_FILE=$CLOUD_DIR/etc/openstack/clouds.yaml
cd "$CLOUD_DIR"

T0=$(date +%s)
say() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
die() { echo "start.sh: $*" >&2; exit 1; }

for venv in venv venv-ks; do
    [ -x "$CLOUD_DIR/$venv/bin/python" ] || die "$CLOUD_DIR/$venv is missing: run $HARNESS/install.sh first"
done

if "$HARNESS/status.sh" >/dev/null 2>&1; then
    say "already up (run/state): nothing to do"
    exit 0
fi
# Stop what a half-started earlier run may have left, then refuse ports held by anything else.
"$HARNESS/stop.sh" >/dev/null 2>&1 || true
for port in $PORTS; do
    if ss -ltnH "sport = :$port" | grep -q .; then
        die "port $port on 127.0.0.1 is taken: $(ss -ltnpH "sport = :$port")"
    fi
done

say "config into $CLOUD_DIR/etc"
rm -rf "$CLOUD_DIR/etc" "$RUN"
mkdir -p "$RUN/log" "$RUN/lock" "$RUN/pids" "$RUN/fernet-keys" "$RUN/fernet-receipts" "$RUN/credential-keys"
cp -r "$HARNESS/etc" "$CLOUD_DIR/etc"
find "$CLOUD_DIR/etc" -type f -exec sed -i "s|@CLOUD_DIR@|$CLOUD_DIR|g" {} +
cp "$CLOUD_DIR/venv/etc/nova/api-paste.ini" "$CLOUD_DIR/etc/nova/api-paste.ini"

say "rabbitmq: fresh virtual host neat-cloud"
rabbitmqctl -q delete_vhost neat-cloud >/dev/null 2>&1 || true
rabbitmqctl -q add_vhost neat-cloud >/dev/null
rabbitmqctl -q set_permissions -p neat-cloud guest ".*" ".*" ".*" >/dev/null

say "mariadb: fresh databases neat_nova_api, neat_nova_cell0, neat_nova, neat_placement, neat_keystone"
DBS="neat_nova_api neat_nova_cell0 neat_nova neat_placement neat_keystone"
SQL=""
for db in $DBS; do SQL="$SQL DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8;"; done
mariadb -h 127.0.0.1 -P 3306 -u root -e "$SQL"

# On any failure from here on, stop what was started and point at the logs.
on_exit() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "start.sh: bring-up failed; logs in $RUN/log" >&2
        "$HARNESS/stop.sh" >&2 || true
    fi
    exit $rc
}
trap on_exit EXIT

launch() {  # launch NAME COMMAND... : its own session and process group; PID in run/pids/NAME.pid
    local name=$1
    shift
    setsid "$@" > "$RUN/log/$name.out" 2>&1 < /dev/null &
    record_pid $! "$RUN/pids/$name.pid"
}

say "schemas, keystone and placement (side by side)"
(
    K=(--config-file "$CLOUD_DIR/etc/keystone/keystone.conf")
    KM=$CLOUD_DIR/venv-ks/bin/keystone-manage
    $KM "${K[@]}" db_sync
    $KM "${K[@]}" fernet_setup --keystone-user root --keystone-group root
    $KM "${K[@]}" credential_setup --keystone-user root --keystone-group root
    $KM "${K[@]}" bootstrap --bootstrap-password secret --bootstrap-region-id RegionOne \
        --bootstrap-public-url http://127.0.0.1:15000/v3 \
        --bootstrap-internal-url http://127.0.0.1:15000/v3 \
        --bootstrap-admin-url http://127.0.0.1:15000/v3
    launch keystone env OS_KEYSTONE_CONFIG_FILES="$CLOUD_DIR/etc/keystone/keystone.conf" \
        "$CLOUD_DIR/venv-ks/bin/python" "$HARNESS/bin/wsgi_serve.py" keystone.wsgi.api:application 15000 keystone
    for _ in $(seq 60); do curl -sf -o /dev/null http://127.0.0.1:15000/v3 && break; sleep 0.5; done
    "$CLOUD_DIR/venv/bin/python" "$HARNESS/bin/cloud_setup.py" keystone
) > "$RUN/log/keystone-setup.log" 2>&1 &
KEYSTONE=$!
(
    "$CLOUD_DIR/venv/bin/placement-manage" --config-file "$CLOUD_DIR/etc/placement/placement.conf" db sync
    launch placement env OS_PLACEMENT_CONFIG_DIR="$CLOUD_DIR/etc/placement" \
        "$CLOUD_DIR/venv/bin/python" "$HARNESS/bin/wsgi_serve.py" placement.wsgi.api:application 18778 placement-api
) > "$RUN/log/placement-setup.log" 2>&1 &
PLACEMENT=$!
(
    NM=("$CLOUD_DIR/venv/bin/nova-manage" --config-file "$CLOUD_DIR/etc/nova/nova.conf")
    "${NM[@]}" api_db sync
    "${NM[@]}" cell_v2 map_cell0 --database_connection \
        "mysql+pymysql://root@127.0.0.1:3306/neat_nova_cell0?charset=utf8"
    "${NM[@]}" db sync
    "${NM[@]}" cell_v2 create_cell --name cell1
) > "$RUN/log/nova-manage.log" 2>&1 &
NOVA_SYNC=$!
wait $PLACEMENT || die "placement schema or start failed: see $RUN/log/placement-setup.log"
say "placement schema done, placement started"
wait $KEYSTONE || die "keystone bring-up failed: see $RUN/log/keystone-setup.log"
say "keystone up with Nova's and Placement's users, services and endpoints"
wait $NOVA_SYNC || die "nova-manage failed: see $RUN/log/nova-manage.log"
say "nova schemas and cells done"

# The conductor and the scheduler first: the computes wait for the conductor at start.
export OS_NOVA_DISABLE_EVENTLET_PATCHING=1
NOVA_PY=$CLOUD_DIR/venv/bin/python
NOVA_CONF=$CLOUD_DIR/etc/nova
for service in conductor scheduler; do
    launch "$service" "$NOVA_PY" "$HARNESS/bin/nova_svc.py" "$service" \
        --config-file "$NOVA_CONF/nova.conf" --config-file "$NOVA_CONF/$service.conf"
done

launch api env OS_NOVA_CONFIG_DIR="$NOVA_CONF" OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;api.conf" \
    "$NOVA_PY" "$HARNESS/bin/nova_svc.py" api 18774
HOSTS=()
while read -r name vcpus memory_mb disk_gb; do
    case "$name" in ''|'#'*) continue ;; esac
    HOSTS+=("$name")
    mkdir -p "$RUN/$name"
    launch "$name" env FAKE_VCPUS="$vcpus" FAKE_MEMORY_MB="$memory_mb" FAKE_DISK_GB="$disk_gb" \
        "$NOVA_PY" "$HARNESS/bin/nova_svc.py" compute \
        --config-file "$NOVA_CONF/nova.conf" --config-file "$NOVA_CONF/$name.conf"
done < "$CLOUD_DIR/etc/computes"
say "nova services started: conductor, scheduler, api, ${HOSTS[*]}"

"$NOVA_PY" "$HARNESS/bin/cloud_setup.py" wait "${HOSTS[@]}" --timeout 240 --nova-conf "$NOVA_CONF/nova.conf" --pids "$RUN/pids"
"$NOVA_PY" "$HARNESS/bin/cloud_setup.py" flavors
echo "up $(date +%s) ${HOSTS[*]}" > "$RUN/state"
say "up"
