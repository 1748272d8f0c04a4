"""symgrad: a source-to-source symbolic differentiation compiler for Python/numpy."""

from typing import Any

from .api import __version__, grad, hessian, jacobian, jvp
from .check import check_grad
from .custom import nondifferentiable, rule
from .errors import SymgradError, SymgradWarning

__all__ = [
    "SymgradError",
    "SymgradWarning",
    "__version__",
    "check_grad",
    "grad",
    "hessian",
    "jacobian",
    "jvp",
    "nondifferentiable",
    "rule",
    "verify",
]


def verify(f: Any, *args: Any, wrt: Any = None, **options: Any) -> Any:
    """Prove symgrad's gradient of `f` with sympy; see `symgrad.proof.verify`."""
    from .proof import verify as prove

    return prove(f, *args, wrt=wrt, **options)
