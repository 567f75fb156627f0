"""Root pytest set-up: doctests that need the reference libraries skip where they are absent
(a TPU VM without torch) unless JAXSCHED_REQUIRE_REFERENCE=1, as the test command sets."""

import importlib.util
import os

collect_ignore = []
if importlib.util.find_spec("torch") is None and os.environ.get(
        "JAXSCHED_REQUIRE_REFERENCE") != "1":
    collect_ignore.append("jaxsched/pytorch/interop.py")
