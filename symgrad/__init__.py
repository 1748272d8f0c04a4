"""symgrad: a source-to-source symbolic differentiation compiler for Python/numpy."""

from .api import __version__, grad
from .check import check_grad
from .errors import SymgradError
from .verify import verify

__all__ = ["SymgradError", "__version__", "check_grad", "grad", "verify"]
