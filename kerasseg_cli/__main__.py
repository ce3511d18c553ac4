import sys

from kerasseg_cli import run

sys.exit(run())
