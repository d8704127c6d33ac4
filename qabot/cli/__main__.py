"""`python -m qabot.cli`: the same as the `qabot` command."""

import sys

from .app import main

sys.exit(main())
