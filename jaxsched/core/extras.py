"""Optional dependencies: what ``import jaxsched`` needs is installed with it (jax, optax,
numpy, mpmath); drawing and the command line's extras come with ``pip install
'jaxsched[plot]'`` / ``'jaxsched[cli]'``, and a missing one is named with its extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "require"]

# which extra installs each optional module (pyproject's [project.optional-dependencies])
EXTRAS = {"matplotlib": "plot", "tqdm": "cli", "sklearn": "cli"}


def require(module: str, what: str) -> ModuleType:
    """Imports ``module`` (e.g. ``"matplotlib.pyplot"``) for ``what`` needs it.

    Args:
        module: the dotted module name.
        what: the feature that needs it, for the message (``"jaxsched plot"``).

    Returns:
        The module.

    Raises:
        ImportError: when it is not installed, naming the extra that installs it.

    Example:
        >>> require("math", "arithmetic").sqrt(4.0)
        2.0
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name not in (None, top, module):  # broken inside the module, not missing
            raise
        extra = EXTRAS.get(top)
        how = (f"pip install 'jaxsched[{extra}]'" if extra else f"pip install {top}")
        raise ImportError(f"{what} needs {top}, which is not installed: {how}",
                          name=top) from None
