"""`python -m rdtheory.cli`: the `rdtheory` command."""

import sys

from rdtheory.cli import main

sys.exit(main())
