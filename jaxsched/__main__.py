"""``python -m jaxsched``: the ``jaxsched`` command."""

import sys

from jaxsched.cli import main

sys.exit(main())
