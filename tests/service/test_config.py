"""Reading the service configuration (:mod:`neat.config`)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from algorithms.overload.regression import LocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.power import linear_power_table
from algorithms.selection.mc import MaximumCorrelation
from algorithms.selection.mmt import MinimumMigrationTime
from algorithms.underload.least_utilized import LeastUtilizedUnderload
from neat.config import (
    DEFAULT_POLICY,
    DEFAULT_POWER_W,
    ConfigError,
    HostProfile,
    PowerSettings,
    ServiceConfig,
    load_config,
)
from neat.decision.limits import SERVICE_DEFAULTS
from neat.decision.mode import NEAT
from neat.decision.policy import Component, parse_policy

GOOD = """
[database]
url = "postgresql+psycopg://neat:s3cret@db.example/neat"
[openstack]
cloud = "production"
[intervals]
decide_s = 600
[algorithms]
overload = { name = "lr", safety = 1.1 }
selection = "mc"
[limits]
max_migrations_per_cycle = 4
exclude_hosts = ["gpu-1"]
"""

PROFILES = """
[hosts]
core_mips = 2500
link_mbit_s = 1000
idle_w = 80
peak_w = 160
[[hosts.profile]]
match = "compute-g5-*"
core_mips = 2660
power_w = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]
[[hosts.profile]]
match = "compute-*"
cores = 16
ram_mb = 65536
link_mbit_s = 25000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "neat.toml"
    path.write_text(text)
    return path


def test_reads_every_section(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.cloud == "production"
    assert config.decide_interval_s == 600.0
    assert config.limits.max_migrations_per_cycle == 4
    assert config.limits.exclude_hosts == frozenset({"gpu-1"})
    assert config.policy_spec.overload == Component("lr", {"safety": 1.1})
    assert config.policy_spec.selection == Component("mc")
    policy = config.policy()
    assert isinstance(policy.detector, LocalRegressionDetector) and policy.detector.safety == 1.1
    assert isinstance(policy.selector, MaximumCorrelation)
    assert policy.mode is NEAT
    assert config.source == str(tmp_path / "neat.toml")


def test_the_parts_left_out_keep_their_defaults(tmp_path):
    """Only the overload detector named: MMT, PABFD and the least-utilized evacuation."""
    config = load_config(write(tmp_path, "[algorithms]\noverload = 'thr'\n"))
    spec = config.policy_spec
    assert (spec.selection, spec.placement, spec.underload) == (
        Component("mmt"),
        Component("pabfd"),
        Component("least-utilized"),
    )
    policy = config.policy()
    assert isinstance(policy.detector, ThresholdOverload)
    assert isinstance(policy.placer, PowerAwareBestFitDecreasing)
    assert isinstance(policy.underload, LeastUtilizedUnderload)


def test_a_named_policy(tmp_path):
    config = load_config(write(tmp_path, "[algorithms]\npolicy = 'lr-mmt-1.2'\n"))
    assert config.policy_spec == parse_policy("lr-mmt-1.2")
    assert config.policy_spec.overload.params == {"safety": 1.2}
    policy = config.policy()
    assert isinstance(policy.detector, LocalRegressionDetector) and policy.detector.safety == 1.2
    assert isinstance(policy.selector, MinimumMigrationTime)


def test_parts_as_tables_with_their_parameters(tmp_path):
    text = """
[algorithms]
overload = { name = "thr", threshold = 0.7 }
selection = { name = "mmt" }
placement = { name = "pabfd" }
underload = { name = "threshold", threshold = 0.2 }
"""
    config = load_config(write(tmp_path, text))
    assert config.policy_spec.overload.params == {"threshold": 0.7}
    assert config.policy_spec.underload == Component("threshold", {"threshold": 0.2})
    assert config.policy().detector.threshold == 0.7


def test_without_algorithms_the_default_policy_runs(tmp_path):
    config = load_config(write(tmp_path, "[openstack]\ncloud = 'x'\n"))
    default = parse_policy(DEFAULT_POLICY)
    spec = config.policy_spec
    assert (spec.overload, spec.selection, spec.placement, spec.underload) == (
        default.overload,
        default.selection,
        default.placement,
        default.underload,
    )
    assert ServiceConfig().policy_spec == default


def test_limits_left_out_keep_the_service_defaults(tmp_path):
    config = load_config(write(tmp_path, "[limits]\nvm_cooldown_s = 60\n"))
    assert config.limits == replace(SERVICE_DEFAULTS, vm_cooldown_s=60.0)
    assert (
        SERVICE_DEFAULTS.max_migrations_per_cycle,
        SERVICE_DEFAULTS.max_concurrent_migrations,
        SERVICE_DEFAULTS.vm_cooldown_s,
        SERVICE_DEFAULTS.migration_timeout_s,
        SERVICE_DEFAULTS.migration_retries,
    ) == (10, 2, 3600.0, 600.0, 1)
    assert ServiceConfig().limits == SERVICE_DEFAULTS


def test_every_limit(tmp_path):
    text = """
[limits]
max_migrations_per_cycle = 1000000
max_concurrent_migrations = 1
vm_cooldown_s = 0
migration_timeout_s = 30.5
migration_retries = 0
exclude_hosts = ["a", "b"]
exclude_vms = ["uuid-1"]
exclude_metadata_key = "keep"
"""
    limits = load_config(write(tmp_path, text)).limits
    assert limits.max_migrations_per_cycle == 1_000_000 and limits.max_concurrent_migrations == 1
    assert limits.vm_cooldown_s == 0.0 and limits.migration_timeout_s == 30.5 and limits.migration_retries == 0
    assert limits.exclude_hosts == frozenset({"a", "b"}) and limits.exclude_vms == frozenset({"uuid-1"})
    assert limits.exclude_metadata_key == "keep"
    assert isinstance(limits.vm_cooldown_s, float)


def test_host_profiles_first_match_wins_and_the_defaults_match_the_rest(tmp_path):
    config = load_config(write(tmp_path, PROFILES))
    g5 = config.profile("compute-g5-3")
    assert g5.match == "compute-g5-*" and g5.core_mips == 2660.0
    np.testing.assert_allclose(g5.power_w, [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135])
    # a profile's keys left out come from [hosts], not from the other profiles
    assert (g5.cores, g5.ram_mb, g5.link_mbit_s) == (None, None, 1000.0)
    other = config.profile("compute-7")
    assert (other.match, other.core_mips, other.cores, other.ram_mb, other.link_mbit_s) == (
        "compute-*",
        2500.0,
        16,
        65536.0,
        25000.0,
    )
    np.testing.assert_allclose(other.power_w, linear_power_table(80.0, 160.0))
    rest = config.profile("gpu-1")
    assert rest.match == "*" and rest.core_mips == 2500.0 and rest.link_mbit_s == 1000.0
    np.testing.assert_allclose(rest.power_w, linear_power_table(80.0, 160.0))
    assert len(config.profiles) == 3


def test_without_hosts_every_host_gets_the_default_profile():
    config = ServiceConfig()
    profile = config.profile("anything")
    assert profile == HostProfile()
    assert (profile.core_mips, profile.link_mbit_s, profile.cores, profile.ram_mb) == (2000.0, 10_000.0, None, None)
    np.testing.assert_array_equal(profile.power_w, DEFAULT_POWER_W)


def test_the_match_is_a_shell_pattern_on_the_whole_name(tmp_path):
    config = load_config(write(tmp_path, "[[hosts.profile]]\nmatch = 'c?'\ncore_mips = 1\n"))
    assert config.profile("c1").core_mips == 1.0
    assert config.profile("c10").core_mips == 2000.0
    assert config.profile("xc1").core_mips == 2000.0


def test_power_settings(tmp_path):
    text = """
[power]
min_awake_s = 60
min_asleep_s = 30
wake_timeout_s = 90
power_timeout_s = 20
poll_s = 0.5
retries = 0
sleep_w = 3.5
[power.hosts.compute-7]
driver = "noop"
"""
    config = load_config(write(tmp_path, text))
    assert config.power == PowerSettings(
        min_awake_s=60.0,
        min_asleep_s=30.0,
        wake_timeout_s=90.0,
        power_timeout_s=20.0,
        poll_s=0.5,
        retries=0,
        sleep_w=3.5,
    )
    assert config.power_hosts == {"compute-7": {"driver": "noop"}}
    assert set(config.power_drivers()) == {"compute-7"}
    assert ServiceConfig().power == PowerSettings()


def test_the_password_never_shows(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert "s3cret" not in config.masked_database_url()
    assert "***" in config.masked_database_url()


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEAT_CONFIG", str(write(tmp_path, GOOD)))
    assert load_config().cloud == "production"


def test_defaults_without_a_file(monkeypatch):
    monkeypatch.delenv("NEAT_CONFIG", raising=False)
    assert load_config() == ServiceConfig()


#: A bad file and what its error must say (besides the file's path), each fragment somewhere in it.
BAD_FILES = [
    # limits: read by neat.decision.limits.limits_from_table, the scenario files' reader
    ("[limits]\nmax_migrations_per_cycle = -1", ("[limits]", "max_migrations_per_cycle", "[1, 1000000]", "got -1")),
    ("[limits]\nmax_migrations_per_cycle = 0", ("max_migrations_per_cycle", "[1, 1000000]", "got 0")),
    ("[limits]\nmax_concurrent_migrations = 0", ("max_concurrent_migrations", "[1, 10000]", "got 0")),
    ("[limits]\nmigration_timeout_s = 0.5", ("migration_timeout_s", "[1.0, ", "got 0.5")),
    ("[limits]\nmigration_retries = 1.5", ("migration_retries", "int", "got 1.5")),
    ("[limits]\nexclude_hosts = 'gpu-1'", ("exclude_hosts must be a list of names",)),
    (
        "[limits]\nmax_migration_per_cycle = 3",
        ("[limits]", "unknown key 'max_migration_per_cycle'", "'max_migrations_per_cycle'"),
    ),
    # algorithms
    ("[algorithms]\noverload = { name = 'nope' }", ("unknown overload algorithm 'nope'",)),
    ("[algorithms]\noverload = { name = 'thr', threshold = 80 }", ("threshold", "percentage")),
    ("[algorithms]\noverload = 3", ("[algorithms] overload must be a name or a table with 'name'; got 3",)),
    ("[algorithms]\nselection = { safety = 1 }", ("selection must be a name or a table with 'name'",)),
    ("[algorithms]\npolicy = 'lr-mmt-1.2'\noverload = 'thr'", ("give either 'policy' or its parts",)),
    ("[algorithms]\npolicy = 'nope'", ("[algorithms] policy", "'nope' is not 'npa', 'dvfs', 'recommended' or")),
    ("[algorithms]\npolicy = 'lr-xyz-1.2'", ("unknown VM selection 'xyz'",)),
    ("[algorithms]\npolcy = 'lr-mmt-1.2'", ("[algorithms]", "unknown key 'polcy'", "'policy'")),
    # every other section rejects unknown keys, suggesting the closest known one
    ("[database]\nulr = 'sqlite://'", ("[database]", "unknown key 'ulr'", "'url'")),
    ("[openstack]\nclod = 'x'", ("[openstack]", "unknown key 'clod'", "'cloud'")),
    ("[intervals]\ndecide = 60", ("[intervals]", "unknown key 'decide'", "'decide_s'")),
    ("[retention]\nmax_age = 60", ("[retention]", "unknown key 'max_age'", "'max_age_s'")),
    ("[hosts]\ncore_mip = 3", ("[hosts]", "unknown key 'core_mip'", "'core_mips'")),
    ("[power]\nmin_awak_s = 3", ("[power]", "unknown key 'min_awak_s'", "'min_awake_s'")),
    (
        "[[hosts.profile]]\nmatch = 'a*'\ncore_mip = 3",
        ("[[hosts.profile]] #1", "unknown key 'core_mip'", "'core_mips'"),
    ),
    ("[[hosts.profile]]\nmatch = 'a*'\nprofile = 1", ("[[hosts.profile]] #1", "unknown key 'profile'")),
    # values
    ("[intervals]\ncollect_s = 0", ("[intervals]", "collect_s must be a float in [1.0, 86400.0]; got 0")),
    ("[intervals]\nhistory_window = 0", ("history_window must be an int in [1, 10000]; got 0",)),
    ("[database]\nurl = 'not a url'", ("[database] url is not a database URL",)),
    ("[hosts]\npower_w = [1, 2]", ("power_w must have 11 points",)),
    ("[hosts]\nidle_w = 100\npower_w = [1,2,3,4,5,6,7,8,9,10,11]", ("give power_w (11 points) or idle_w and peak_w",)),
    ("[hosts]\nidle_w = 300\npeak_w = 200", ("needs 0 <= idle_w <= peak_w",)),
    ("[hosts]\nlink_mbit_s = 0", ("[hosts]", "link_mbit_s must be a float in [1.0, ", "got 0")),
    ("[[hosts.profile]]\ncore_mips = 3", ("[[hosts.profile]] #1", "match")),
    ("[[hosts.profile]]\nmatch = 'a*'\ncores = 0", ("[[hosts.profile]] #1", "cores must be an int in [1, 100000]")),
    ("[hosts]\nprofile = { match = 'a*' }", ("profile must be [[hosts.profile]] tables",)),
    ("[power.hosts.c1]\ndriver = 'nope'", ("[power.hosts]", "host 'c1'", "driver 'nope'")),
    ("[surprise]\nx = 1", ("unknown section [surprise]",)),
    ("[database\n", ("not valid TOML",)),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_FILES)
def test_bad_files_name_the_key_and_value(tmp_path, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    missing = [f for f in fragments if f not in message]
    assert not missing, message


def test_a_missing_peak_names_the_file_once(tmp_path):
    path = write(tmp_path, "[hosts]\nidle_w = 100\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "peak_w" in str(info.value)
    assert str(info.value).count(str(path)) == 1


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
