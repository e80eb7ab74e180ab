"""Domain constants of neat, each defined once."""

from __future__ import annotations

#: Joules in one kilowatt-hour.
J_PER_KWH = 3.6e6
#: Megabits in one megabyte.
MBIT_PER_MB = 8.0
#: Seconds between two samples of a PlanetLab trace (CoMon's five minutes).
PLANETLAB_INTERVAL_S = 300
#: Samples in one PlanetLab day.
PLANETLAB_STEPS = 288
#: The service's database when none is configured: a SQLite file in the current folder.
DEFAULT_DATABASE_URL = "sqlite:///neat.db"
