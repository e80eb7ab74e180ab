"""``python -m neat.report``: the ``neat report`` command on its own."""

from neat.report.cli import report_cmd

if __name__ == "__main__":  # worker processes (spawned) import this module without running it
    report_cmd(prog_name="neat report")
