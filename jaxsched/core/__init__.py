"""The core, which knows no origin: the ``Schedule`` type (``schedule``), integer-exact
arithmetic (``exact``), eager argument checks (``checks``), the adapter base (``adapter``),
state-dict plumbing (``state``), optax hyperparameter access (``hyperparams``), the plateau
state machine (``plateau``) and the arbitrary-precision helpers of the oracles (``mp``).
It imports nothing else of jaxsched."""
