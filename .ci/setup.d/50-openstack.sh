#!/usr/bin/env bash
# System prerequisites of the integration tier (tests/integration): Debian packages and the two
# services it reuses, RabbitMQ on 127.0.0.1:5672 (guest/guest) and MariaDB on 127.0.0.1:3306
# (root, no password). This machine kind installs and starts both before the session; this script
# only fills a gap, and is idempotent. The tier's Python environments (Nova, Placement, Keystone)
# are not made here: tests/integration/conftest.py runs tests/integration/cloud/install.sh, so CI
# times them with the tests.
set -euo pipefail

need=()
command -v curl >/dev/null || need+=(curl)
command -v ss >/dev/null || need+=(iproute2)
command -v setsid >/dev/null || need+=(util-linux)
command -v mariadb >/dev/null || need+=(mariadb-client)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v rabbitmqctl >/dev/null || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

listening() { ss -ltnH "sport = :$1" | grep -q .; }
wait_for_port() {  # wait_for_port PORT NAME
    for _ in $(seq 60); do listening "$1" && return 0; sleep 1; done
    echo "$2 is not listening on 127.0.0.1:$1" >&2
    exit 1
}

if ! listening 5672; then
    echo "starting RabbitMQ on 127.0.0.1:5672"
    # loopback only, broker and epmd alike (the defaults listen on every interface)
    if ! grep -qs "127.0.0.1:5672" /etc/rabbitmq/rabbitmq.conf; then
        mkdir -p /etc/rabbitmq
        echo "listeners.tcp.local = 127.0.0.1:5672" >> /etc/rabbitmq/rabbitmq.conf
    fi
    if ! grep -qs "ERL_EPMD_ADDRESS" /etc/rabbitmq/rabbitmq-env.conf; then
        printf 'NODENAME=rabbit@localhost\nERL_EPMD_ADDRESS=127.0.0.1\nexport ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"\n' \
            >> /etc/rabbitmq/rabbitmq-env.conf
    fi
    rabbitmq-server -detached
    wait_for_port 5672 RabbitMQ
fi

if ! listening 3306; then
    echo "starting MariaDB on 127.0.0.1:3306"
    if ! grep -qs "^bind-address *= *127.0.0.1" /etc/mysql/my.cnf; then
        printf '[mysqld]\nbind-address = 127.0.0.1\n' > /etc/mysql/mariadb.conf.d/99-neat-loopback.cnf
    fi
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for_port 3306 MariaDB
fi

# The harness logs in as root without a password over TCP, and as guest to RabbitMQ.
mariadb -h 127.0.0.1 -P 3306 -u root -e "SELECT 1" >/dev/null
echo "openstack prerequisites: ok (RabbitMQ 127.0.0.1:5672, MariaDB 127.0.0.1:3306)"
