"""Reading the service configuration."""

from pathlib import Path

import pytest

from algorithms.overload.regression import LocalRegressionDetector
from neat.service.config import ConfigError, ServiceConfig, load_config

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
    detector = config.detector()
    assert isinstance(detector, LocalRegressionDetector) and detector.safety == 1.1
    assert config.selection == {"name": "mc"}


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


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[limits]\nmax_migrations_per_cycle = -1", "max_migrations_per_cycle must be an integer >= 0; got -1"),
        ("[limits]\nexclude_hosts = 'gpu-1'", "exclude_hosts must be a list of names"),
        ("[algorithms]\noverload = { name = 'nope' }", "unknown overload algorithm 'nope'"),
        ("[algorithms]\noverload = { name = 'thr', threshold = 80 }", "percentage"),
        ("[surprise]\nx = 1", "unknown section [surprise]"),
        ("[database\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_key_and_value(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
