"""``python -m zeekslam`` runs the command line."""

from .cli import run

run()
