#!/usr/bin/env bash
# Create the integration cloud's two Python environments under the cache folder:
#   $NEAT_CLOUD_DIR/venv     nova, placement, openstacksdk and what Nova's test fixtures need
#   $NEAT_CLOUD_DIR/venv-ks  keystone
# Idempotent: an environment whose stamp matches the requirements below is kept as it is.
# NEAT_CLOUD_DIR defaults to ~/.cache/neat-cloud; NEAT_CLOUD_PYTHON (default python3) makes them.
set -euo pipefail
CLOUD_DIR=${NEAT_CLOUD_DIR:-$HOME/.cache/neat-cloud}
PY=${NEAT_CLOUD_PYTHON:-python3}
mkdir -p "$CLOUD_DIR"
CLOUD_DIR=$(cd "$CLOUD_DIR" && pwd)

# Versions proven together on this machine kind. SQLAlchemy 2.1 breaks Nova's fixtures.
NOVA_REQS=(
    "nova==34.0.0" "openstack-placement==16.0.0" "openstacksdk==4.22.0"
    "testtools" "oslotest" "wsgi-intercept" "requests-mock" "PyMySQL" "SQLAlchemy<2.1"
)
KEYSTONE_REQS=("keystone==30.0.0" "PyMySQL" "SQLAlchemy<2.1")

make_venv() {  # make_venv NAME REQUIREMENT...
    local dir=$CLOUD_DIR/$1
    shift
    local stamp
    stamp="$($PY -c 'import sys; print(sys.version.split()[0])') $*"
    if [ -f "$dir/.neat-stamp" ] && [ "$(cat "$dir/.neat-stamp")" = "$stamp" ]; then
        echo "$dir: up to date"
        return 0
    fi
    rm -rf "$dir"
    $PY -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
    echo "$stamp" > "$dir/.neat-stamp"
    echo "$dir: installed ($(du -sm "$dir" | cut -f1) MB)"
}

T0=$(date +%s)
# The two installs are mostly downloads and unpacking: run them side by side.
make_venv venv "${NOVA_REQS[@]}" > "$CLOUD_DIR/install-venv.log" 2>&1 &
NOVA_PID=$!
make_venv venv-ks "${KEYSTONE_REQS[@]}" > "$CLOUD_DIR/install-venv-ks.log" 2>&1 &
KS_PID=$!
rc=0
wait $NOVA_PID || rc=$?
wait $KS_PID || rc=$?
if [ $rc -ne 0 ]; then
    # (this machine's pip configuration names local indexes that may be absent: hide that noise)
    grep -hv "^WARNING: Location" "$CLOUD_DIR/install-venv.log" "$CLOUD_DIR/install-venv-ks.log" | tail -n 40 >&2
    echo "install.sh: failed (full logs in $CLOUD_DIR/install-*.log)" >&2
    exit $rc
fi
tail -q -n 1 "$CLOUD_DIR/install-venv.log" "$CLOUD_DIR/install-venv-ks.log"
echo "install.sh: done in $(( $(date +%s) - T0 )) s"
