"""Small scenarios shared by the command-line and report tests."""

#: 10 G4-like and 10 G5-like hosts; VMs of 1000 and 500 MIPS (every VM fits every core).
SCENARIO_TOML = """
name = "twenty-hosts"

[[host_types]]
name = "G4"
count = 10
cores = 2
core_mips = 1860
ram_mb = 4096
power_w = [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]

[[host_types]]
name = "G5"
count = 10
cores = 2
core_mips = 2660
ram_mb = 4096
idle_w = 93.7
peak_w = 135

[[vm_types]]
name = "small"
mips = 1000
ram_mb = 1740

[[vm_types]]
name = "micro"
mips = 500
ram_mb = 613
"""
