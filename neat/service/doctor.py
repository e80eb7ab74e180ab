"""``neat doctor``: check what the service needs, one check at a time, and say what to fix.

Checks, in order (a check that needs a failed one is skipped): the configuration file; the
database (reachable, schema at head); the lease (who holds it); the cloud (Keystone and Nova
answer, compute services listed); every configured BMC (its power state read); the samples (the
newest is recent: local managers are writing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    """One check: ``result`` is ok, warn, fail or skip."""

    name: str
    result: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def cloud_hint(config: Any, error: Exception) -> str:
    """``error`` reaching the cloud, with what to check."""
    from neat.openstack.errors import AuthError, CloudConfigError

    if config.cloud == "envvars":
        where = (
            "the configuration names no cloud ([openstack] cloud) and OS_CLOUD is unset, so neat read the "
            "OS_* environment variables"
        )
        fix = "set [openstack] cloud = NAME (an entry of clouds.yaml) or OS_CLOUD, or export OS_AUTH_URL and the rest"
    else:
        where = f"cloud {config.cloud!r} ([openstack] cloud in {config.source})"
        fix = "check that clouds.yaml (OS_CLIENT_CONFIG_FILE, ~/.config/openstack, /etc/openstack) has that entry"
    if isinstance(error, AuthError):
        fix = "check the credentials of that clouds.yaml entry"
    elif not isinstance(error, CloudConfigError):
        fix = "check that Keystone and Nova answer from this machine (their URLs are in the service catalog)"
    return f"cannot use the cloud: {error}\n  ({where}; {fix})"


def run_checks(config_path: Path | None, *, call_bmcs: bool = True) -> list[Check]:
    """Every check, in order."""
    from neat.config import ConfigError, load_config

    checks: list[Check] = []
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return [Check("configuration", "fail", str(exc), "correct the file (the message names the key)")]
    checks.append(
        Check("configuration", "ok", f"{config.source}: policy {config.policy_spec.name}, cloud {config.cloud!r}")
    )
    store = _database(config, checks)
    if store is not None:
        _lease(store, checks)
    _cloud(config, checks)
    _bmcs(config, checks, call=call_bmcs)
    if store is not None:
        _samples(store, config, checks)
        store.close()
    return checks


def _database(config: Any, checks: list[Check]) -> Any:
    from neat.db.migrate import schema_problem
    from neat.db.store import Store

    problem = schema_problem(config.database_url)
    if problem is not None:
        fix = "run 'neat db upgrade'" if "upgrade" in problem else "check [database] url and that the server runs"
        checks.append(Check("database", "fail", problem, fix))
        return None
    from neat.db.migrate import head

    checks.append(Check("database", "ok", f"{config.masked_database_url()}: schema at revision {head()} (head)"))
    return Store.from_url(config.database_url)


def _lease(store: Any, checks: list[Check]) -> None:
    lease = store.lease()
    now = datetime.now(UTC)
    if lease is None:
        checks.append(Check("lease", "ok", "never held: no global manager has acted yet"))
    elif lease.expires_at > now:
        until = lease.expires_at.isoformat(timespec="seconds")
        checks.append(Check("lease", "ok", f"held by {lease.holder} (term {lease.term}) until {until}"))
    else:
        since = lease.expires_at.isoformat(timespec="seconds")
        checks.append(Check("lease", "ok", f"free since {since}; last holder {lease.holder} (term {lease.term})"))


def _cloud(config: Any, checks: list[Check]) -> None:
    from neat.openstack.client import NovaClient
    from neat.openstack.errors import OpenStackError

    try:
        with NovaClient.connect(cloud=config.cloud, api_timeout_s=15.0) as client:
            services = client.services()
    except OpenStackError as exc:
        detail, _, fix = cloud_hint(config, exc).partition("\n")
        checks.append(Check("cloud", "fail", detail, fix.strip(" ()")))
        return
    down = [s.host for s in services if not s.up]
    disabled = [s.host for s in services if not s.enabled]
    detail = f"cloud {config.cloud!r}: {len(services)} compute services, {len(down)} down, {len(disabled)} disabled"
    if not services:
        checks.append(Check("cloud", "warn", detail, "no nova-compute service: is this the right cloud?"))
    else:
        checks.append(Check("cloud", "ok", detail))


def _bmcs(config: Any, checks: list[Check], *, call: bool) -> None:
    from neat.config import ConfigError

    if not config.power_hosts:
        checks.append(Check("power", "skip", "no [power.hosts] tables: power management is off"))
        return
    try:
        drivers = config.power_drivers()
    except ConfigError as exc:
        checks.append(Check("power", "fail", str(exc), "set the named environment variable for the service"))
        return
    for host, driver in sorted(drivers.items()):
        name = f"bmc {host}"
        if not call:
            checks.append(Check(name, "skip", f"{type(driver).__name__} configured; not called (--skip-bmc)"))
            continue
        try:
            state = driver.state()
        except Exception as exc:
            checks.append(Check(name, "fail", f"{type(exc).__name__}: {exc}", "check its address and credentials"))
            continue
        finally:
            driver.close()
        result = "ok" if state != "unknown" or not driver.reads_state else "warn"
        checks.append(Check(name, result, f"{type(driver).__name__}: power state {state!r}"))


def _samples(store: Any, config: Any, checks: list[Check]) -> None:
    windows = store.host_windows(1)
    stamps = windows.recorded_at[:, -1][windows.n_valid > 0]
    if stamps.size == 0:
        checks.append(Check("samples", "warn", "no host sample stored yet", "start 'neat local-manager' on the hosts"))
        return
    newest = stamps.max().astype("datetime64[us]").item().replace(tzinfo=UTC)
    age = datetime.now(UTC) - newest
    stale = timedelta(seconds=config.sample_stale_s)
    fresh = int((stamps >= (datetime.now(UTC) - stale).replace(tzinfo=None)).sum())
    detail = f"newest sample {age.total_seconds():.0f} s old; {fresh} of {stamps.size} hosts have a fresh one"
    if age > stale:
        checks.append(Check("samples", "warn", detail, "are the local managers running and writing?"))
    else:
        checks.append(Check("samples", "ok", detail))


__all__ = ["Check", "cloud_hint", "run_checks"]
