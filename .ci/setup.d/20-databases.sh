#!/usr/bin/env bash
# PostgreSQL (127.0.0.1:5432, trust auth) and MariaDB (127.0.0.1:3306, root without password) for
# the storage tests in tests/db: start each one if it is down, then wait until it answers.
# Idempotent, and creates nothing: the tests make (and drop) their own databases.
set -euo pipefail

wait_for() {  # NAME COMMAND...: poll COMMAND for up to 60 s
    local name=$1
    shift
    for _ in $(seq 1 120); do
        if "$@" >/dev/null 2>&1; then
            echo "$name is up"
            return 0
        fi
        sleep 0.5
    done
    echo "$name did not answer within 60 s" >&2
    return 1
}

postgresql_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
mariadb_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

if ! postgresql_up; then
    echo "starting PostgreSQL"
    # Fails harmlessly if the cluster is already starting; wait_for decides.
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
wait_for PostgreSQL postgresql_up

if ! mariadb_up; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for MariaDB mariadb_up
