import sys

from kerasseg.cli import main

sys.exit(main())
