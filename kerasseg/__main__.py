import sys

from kerasseg.cli import run

sys.exit(run())
