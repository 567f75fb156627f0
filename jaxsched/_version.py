"""The version, in one place: pyproject reads it (``dynamic = ["version"]``) and
``jaxsched.__version__`` re-exports it."""

__version__ = "0.1.0"
