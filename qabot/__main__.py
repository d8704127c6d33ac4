"""`python -m qabot`: the same as the `qabot` command."""

import sys

from .cli.app import main

sys.exit(main())
