"""`python -m diary_devinfra`: the same as the `diary-infra` console script."""

import sys

from diary_devinfra.cli import main

sys.exit(main())
