"""The wheel as a user installs it: the Alembic scripts and the built-in days are inside.

Builds the wheel from a copy of the source tree, installs it without its dependencies into a fresh
virtual environment that borrows this one's site-packages for them (a ``.pth`` line: the
dependencies are not what is tested, and installing them again would take a minute), then runs the
installed ``neat`` from a folder outside the tree: ``neat db upgrade`` on a new SQLite file, and a
short simulation of a built-in PlanetLab day.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
#: What a build of the source tree never reads.
IGNORED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "build", "dist", "*.egg-info", ".pytest_cache")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of this source tree (pip's build backend, as a user's pip does)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source], cwd=base)
    (built,) = (base / "dist").glob("neat_consolidation-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with the wheel installed."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=env_dir).strip())
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "borrowed-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(borrowed)))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], env_dir)
    return env_dir / "bin"


def test_wheel_carries_the_migrations_and_the_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {name for name in names if name.startswith("neat/migrations/")}
    expected = {f"neat/migrations/{p.relative_to(ROOT / 'migrations')}" for p in (ROOT / "migrations").rglob("*")}
    assert migrations == {name for name in expected if "__pycache__" not in name and not name.endswith("versions")}
    assert "neat/migrations/env.py" in names
    for day in ("20110303", "20110306", "20110322"):
        assert f"neat/data/planetlab/{day}.npz" in names
    assert "neat/data/reference/cloudsim/results.json" in names


def test_installed_wheel_upgrades_a_database_and_simulates(installed: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NEAT_", "PYTHON"))}
    where = _run(
        [installed / "python", "-c", "import neat, neat.db.migrate as m; print(neat.__file__, m.MIGRATIONS_DIR)"],
        tmp_path,
        env,
    )
    package_file, migrations_dir = where.split()
    assert Path(package_file).is_relative_to(installed.parent)
    assert Path(migrations_dir) == Path(package_file).parent / "migrations"

    database = tmp_path / "neat.db"
    _run([installed / "neat", "db", "upgrade", "--url", f"sqlite:///{database}"], tmp_path, env)
    current = _run([installed / "neat", "db", "current", "--url", f"sqlite:///{database}"], tmp_path, env)
    head = sorted(p.name.split("_")[0] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))[-1]
    assert head in current

    out = _run(
        [installed / "neat", "simulate", "--traces", "planetlab:20110303", "--policy", "dvfs", "--json", "--quiet"],
        tmp_path,
        env,
    )
    (summary,) = [json.loads(line) for line in out.splitlines()]
    assert summary["policy"] == "dvfs"
    assert summary["vms"] == 1052
    assert summary["energy_kwh"] > 0
