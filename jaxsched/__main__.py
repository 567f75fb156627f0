"""``python -m jaxsched``: the ``jaxsched`` command."""

import sys

from jaxsched.tools.cli import main

sys.exit(main())
