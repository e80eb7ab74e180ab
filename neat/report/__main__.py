"""``python -m neat.report``: the ``neat report`` command on its own."""

from neat.report.cli import report_cmd

report_cmd(prog_name="neat report")
