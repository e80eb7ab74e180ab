"""Building each host's driver from its configuration table, and the errors that name host and key."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from typing import Any

import pytest

from neat.power import PowerConfigError, PowerDriver, available, build_driver, build_drivers, driver_class, registry
from neat.power.ipmi import IpmiDriver
from neat.power.noop import NoopDriver
from neat.power.redfish import RedfishDriver
from neat.power.wol import WolDriver

CONFIG = """
[power.hosts.compute-1]
driver = "redfish"
address = "http://127.0.0.1:8000"
system = "2f0d1c9e-6f0e-4e7d-9a43-0c4c9d1c0001"
username = "admin"
password_env = "NEAT_BMC_PASSWORD"

[power.hosts.compute-2]
driver = "ipmi"
address = "127.0.0.1"
port = 6230
username = "admin"
password_env = "NEAT_BMC_PASSWORD"
off_command = "softoff"

[power.hosts.compute-3]
driver = "wol"
mac = "52:54:00:12:34:56"
broadcast = "10.0.0.255"
suspend_command = ["ssh", "{host}", "sudo", "systemctl", "suspend"]
probe_command = ["ssh", "-o", "ConnectTimeout=5", "{host}", "true"]

[power.hosts.compute-4]
driver = "noop"
"""

#: The smallest valid table of each built-in driver.
MINIMAL: dict[str, dict[str, Any]] = {
    "ipmi": {"address": "10.0.0.2", "username": "u", "password_env": "NEAT_BMC_PASSWORD"},
    "noop": {},
    "redfish": {"address": "https://10.0.0.1", "system": "1"},
    "wol": {"mac": "52:54:00:12:34:56"},
}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEAT_BMC_PASSWORD", "not-in-any-file")


def build(table: dict[str, Any], host: str = "compute-1", **kw: Any) -> PowerDriver:
    return build_driver(host, table, **kw)


def test_a_toml_file_builds_one_driver_per_host() -> None:
    drivers = build_drivers(tomllib.loads(CONFIG)["power"]["hosts"])
    assert [type(d) for d in drivers.values()] == [RedfishDriver, IpmiDriver, WolDriver, NoopDriver]
    assert {name: d.host for name, d in drivers.items()} == {h: h for h in drivers}
    wol = drivers["compute-3"]
    assert isinstance(wol, WolDriver)
    assert wol.suspend_command == ("ssh", "{host}", "sudo", "systemctl", "suspend")  # lists become tuples
    assert wol.probe_command == ("ssh", "-o", "ConnectTimeout=5", "{host}", "true")
    ipmi = drivers["compute-2"]
    assert isinstance(ipmi, IpmiDriver) and (ipmi.port, ipmi.off_command) == (6230, "softoff")
    assert "not-in-any-file" not in repr(drivers)


def test_the_built_in_drivers_are_available() -> None:
    assert list(available()) == ["ipmi", "noop", "redfish", "wol"]


@pytest.mark.parametrize("name", ["ipmi", "noop", "redfish", "wol"])
def test_every_driver_declares_exactly_its_fields(name: str) -> None:
    """PARAMETERS matches the constructor fields; a minimal table builds; the interface is complete."""
    cls = driver_class(name, host="compute-1")
    assert set(cls.PARAMETERS) == {f.name for f in fields(cls) if f.init}
    driver = build({"driver": name, **MINIMAL[name]})
    assert isinstance(driver, cls)
    assert driver.sleep_state in ("on", "off", "suspended")
    assert isinstance(driver.reads_state, bool)


def test_an_unknown_driver_lists_the_available_ones_and_guesses() -> None:
    with pytest.raises(PowerConfigError) as info:
        build({"driver": "redfsh"})
    assert str(info.value) == (
        "power configuration of host 'compute-1': driver 'redfsh' is unknown; "
        "available: ipmi, noop, redfish, wol. Did you mean 'redfish'?"
    )


def test_a_table_without_a_driver_says_which_to_choose() -> None:
    with pytest.raises(PowerConfigError, match="host 'compute-7' has no 'driver' key; set it to one of: ipmi, noop"):
        build({"address": "x"}, host="compute-7")


def test_a_missing_key_is_named_with_what_it_is() -> None:
    with pytest.raises(PowerConfigError) as info:
        build({"driver": "redfish", "address": "http://127.0.0.1:8000"})
    assert str(info.value) == (
        "power configuration of host 'compute-1': the redfish driver needs key 'system' "
        "(the system's Id, UUID or path); the table has: address, driver"
    )


def test_an_unknown_key_lists_the_keys_and_guesses() -> None:
    with pytest.raises(PowerConfigError) as info:
        build({"driver": "ipmi", **MINIMAL["ipmi"], "usrname": "admin"})
    message = str(info.value)
    assert message.startswith("power configuration of host 'compute-1': the ipmi driver has no key 'usrname'")
    assert "its keys are: address, call_timeout_s, off_command, password_env, port, username." in message
    assert message.endswith("Did you mean 'username'?")


def test_a_password_in_the_table_is_refused_without_repeating_it() -> None:
    with pytest.raises(PowerConfigError) as info:
        build({"driver": "redfish", **MINIMAL["redfish"], "password": "hunter2"})
    assert "key 'password' is refused: secrets never go in the configuration file" in str(info.value)
    assert "password_env" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_the_host_is_the_tables_name() -> None:
    with pytest.raises(PowerConfigError, match=r"key 'host' is not accepted; .* \(use ssh_host"):
        build({"driver": "wol", **MINIMAL["wol"], "host": "other"})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"driver": "ipmi", **MINIMAL["ipmi"], "port": 0},
            "The 'port' parameter of IpmiDriver (host 'compute-1') must be an int in [1, 65535]. Got 0 instead.",
        ),
        (
            {"driver": "ipmi", **MINIMAL["ipmi"], "port": "623"},
            "Got '623' instead. Write the number without quotes.",
        ),
        (
            {"driver": "redfish", "address": "https://admin:pw@10.0.0.1", "system": "1"},
            "Credentials do not belong in the address: use username and password_env.",
        ),
        (
            {"driver": "redfish", **MINIMAL["redfish"], "off_reset_type": "forceoff"},
            "must be one of {'ForceOff', 'GracefulShutdown', 'Suspend', 'Pause'}. Got 'forceoff' instead. "
            "Did you mean 'ForceOff'?",
        ),
        (
            {"driver": "wol", **MINIMAL["wol"], "suspend_command": "ssh {host} systemctl suspend"},
            "It looks like a shell string",
        ),
        (
            {"driver": "ipmi", **MINIMAL["ipmi"], "password_env": "NEAT BMC"},
            "The 'password_env' parameter of IpmiDriver (host 'compute-1') must be a non-empty string "
            "(an environment variable name)",
        ),
    ],
)
def test_invalid_values_name_the_host_the_key_the_rule_and_the_value(table: dict[str, Any], message: str) -> None:
    with pytest.raises(PowerConfigError) as info:
        build(table)
    assert message in str(info.value)


def test_an_unset_password_variable_is_caught_at_configuration_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEAT_BMC_PASSWORD")
    table = {"driver": "ipmi", **MINIMAL["ipmi"]}
    with pytest.raises(PowerConfigError) as info:
        build(table)
    assert str(info.value) == (
        "power configuration of host 'compute-1': password_env names the environment variable "
        "NEAT_BMC_PASSWORD, which is not set (set it in the service's environment)"
    )
    assert isinstance(build(table, check_environment=False), IpmiDriver)


def test_a_driver_whose_module_cannot_load_is_reported_for_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    drivers = {**registry.available(), "vendor": "neat.power.no_such_module:Driver"}
    monkeypatch.setattr(registry, "available", lambda: drivers)
    with pytest.raises(PowerConfigError, match=r"host 'compute-5': the vendor driver cannot be loaded .*no_such"):
        build({"driver": "vendor"}, host="compute-5")


def test_a_table_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(PowerConfigError, match="must be a table of keys; got str"):
        build_driver("compute-1", "redfish")  # type: ignore[arg-type]


@pytest.mark.parametrize("driver", ["wol", "noop"])
def test_a_host_name_never_starts_with_a_dash(driver):
    """The table's name becomes the ssh target when ssh_host is unset: it must not read as an option."""
    table = {"driver": driver} | ({"mac": "00:11:22:33:44:55"} if driver == "wol" else {})
    with pytest.raises(PowerConfigError, match=r"The 'host' parameter of \w+ \(host '-oProxyCommand=x'\)"):
        build_driver("-oProxyCommand=x", table)
