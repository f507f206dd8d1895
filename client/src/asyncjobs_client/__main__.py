"""`python -m asyncjobs_client`: the `asyncjobs` command."""

import sys

from asyncjobs_client.cli import main

sys.exit(main())
