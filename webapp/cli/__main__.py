"""`python -m webapp.cli ...`: the same as the `signlive` console script."""

import sys

from webapp.cli import main

sys.exit(main())
