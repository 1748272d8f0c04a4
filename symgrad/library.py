"""How calls to numpy, math, builtins and array methods map to primitives.

Each supported callable has a `CallSpec`: the primitive it lowers to, the
names of its run-time arguments in positional order, and its compile-time
parameters (`axis=`, `keepdims=`...) with their defaults.  The frontend binds a
call's positional and keyword arguments against the spec; anything not named
here is reported as having no derivative rule.  `RUNTIME` maps the support
functions of emitted modules, which is how emitted code is read back.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .rules import OPS


@dataclass(frozen=True)
class CallSpec:
    op: str
    args: tuple[str, ...]
    static: tuple[tuple[str, object], ...] = ()
    variadic: bool = False
    positional: int | None = None  # how many of `static` may come by position


# Python's binary operators and the primitive each means.
BINOPS = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "truediv",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.BitAnd: "bitand",  # (masks: `(x > 0) & (x < 1)`)
    ast.BitOr: "bitor",
    ast.BitXor: "bitxor",
}

_REDUCE = (("axis", None), ("keepdims", False))
_DTYPE = (("dtype", None),)  # (a constructor's: numpy's name of it, "float32")

NUMPY: dict[str, CallSpec] = {}
for _name, _op in OPS.items():
    if _op.kind == "elementwise" and _op.template.startswith(f"np.{_name}("):
        NUMPY[_name] = CallSpec(_name, tuple(f"x{i}" for i in range(_op.arity or 0)))
NUMPY["where"] = CallSpec("where", ("condition", "x", "y"))
NUMPY["clip"] = CallSpec("clip", ("a", "a_min", "a_max"))
for _alias, _op_name in [
    ("absolute", "abs"),
    ("radians", "deg2rad"),
    ("degrees", "rad2deg"),
    ("fabs", "abs"),
    ("add", "add"),
    ("subtract", "sub"),
    ("multiply", "mul"),
    ("true_divide", "divide"),  # (np.divide itself: the elementwise op "divide")
    ("negative", "neg"),
    ("positive", "pos"),
]:
    NUMPY[_alias] = CallSpec(
        _op_name, tuple(f"x{i}" for i in range(OPS[_op_name].arity))
    )
for _name in ["sum", "mean", "max", "min", "prod", "any", "all"]:
    NUMPY[_name] = CallSpec(_name, ("a",), _REDUCE, positional=1)  # (then dtype/out)
NUMPY["cumsum"] = CallSpec("cumsum", ("a",), (("axis", None),), positional=1)
NUMPY["roll"] = CallSpec("roll", ("a", "shift"), (("axis", None),))
NUMPY["amax"] = NUMPY["max"]
NUMPY["amin"] = NUMPY["min"]
NUMPY.update(
    matmul=CallSpec("matmul", ("x1", "x2")),
    dot=CallSpec("dot", ("a", "b")),
    outer=CallSpec("outer", ("a", "b")),
    transpose=CallSpec("transpose", ("a",), (("axes", None),)),
    moveaxis=CallSpec("moveaxis", ("a", "source", "destination")),
    reshape=CallSpec("reshape", ("a", "shape")),
    ravel=CallSpec("ravel", ("a",)),
    matrix_transpose=CallSpec("mT", ("x",)),
    tile=CallSpec("tile", ("A", "reps")),
    diag=CallSpec("diag", ("v",), (("k", 0),)),
    pad=CallSpec(
        "pad", ("array", "pad_width"), (("mode", "constant"), ("constant_values", 0))
    ),
    repeat=CallSpec("repeat", ("a", "repeats"), (("axis", None),)),
    squeeze=CallSpec("squeeze", ("a",), (("axis", None),)),
    expand_dims=CallSpec("expand_dims", ("a",), (("axis", None),)),
    copy=CallSpec("copy", ("a",)),
    array=CallSpec("copy", ("object",)),
    asarray=CallSpec("asarray", ("a",)),
    stack=CallSpec("stack", ("arrays",), (("axis", 0),)),
    concatenate=CallSpec("concatenate", ("arrays",), (("axis", 0),)),
    hstack=CallSpec("hstack", ("tup",)),
    vstack=CallSpec("vstack", ("tup",)),
    broadcast_to=CallSpec("broadcast_to", ("array", "shape")),
    full=CallSpec("full", ("shape", "fill_value"), _DTYPE),
    sign=CallSpec("sign", ("x",)),
    heaviside=CallSpec("heaviside", ("x1", "x2")),
    floor=CallSpec("floor", ("x",)),
    ceil=CallSpec("ceil", ("x",)),
    rint=CallSpec("rint", ("x",)),
    round=CallSpec("round", ("a",), (("decimals", 0),)),
    logical_and=CallSpec("logical_and", ("x1", "x2")),
    logical_or=CallSpec("logical_or", ("x1", "x2")),
    logical_not=CallSpec("logical_not", ("x",)),
    isnan=CallSpec("isnan", ("x",)),
    isfinite=CallSpec("isfinite", ("x",)),
    isinf=CallSpec("isinf", ("x",)),
    shape=CallSpec("shape", ("a",)),
    size=CallSpec("size", ("a",), (("axis", None),)),
    ndim=CallSpec("ndim", ("a",)),
    zeros=CallSpec("zeros", ("shape",), _DTYPE),
    ones=CallSpec("ones", ("shape",), _DTYPE),
    empty=CallSpec("empty", ("shape",), _DTYPE),
    zeros_like=CallSpec("zeros_like", ("a",), _DTYPE),
    ones_like=CallSpec("ones_like", ("a",), _DTYPE),
    eye=CallSpec("eye", ("N",), (("M", None), ("k", 0), ("dtype", None))),
    identity=CallSpec("eye", ("n",), (("dtype", None),)),
    count_nonzero=CallSpec("count_nonzero", ("a",), (("axis", None),)),
    isclose=CallSpec("isclose", ("a", "b"), (("rtol", 1e-05), ("atol", 1e-08))),
    allclose=CallSpec("allclose", ("a", "b"), (("rtol", 1e-05), ("atol", 1e-08))),
    # (start, stop, step or num by position; these parameters by keyword)
    arange=CallSpec("arange", (), _DTYPE, variadic=True),
    linspace=CallSpec(
        "linspace", (), (("endpoint", True), ("dtype", None)), variadic=True
    ),
    argmax=CallSpec("argmax", ("a",), (("axis", None),)),
    argmin=CallSpec("argmin", ("a",), (("axis", None),)),
    argsort=CallSpec("argsort", ("a",), (("axis", -1),)),
    flatnonzero=CallSpec("flatnonzero", ("a",)),
)
NUMPY["around"] = NUMPY["round"]

MATH: dict[str, CallSpec] = {
    op.math_name: CallSpec(op.name, tuple(f"x{i}" for i in range(op.arity or 0)))
    for op in OPS.values()
    if op.math_name is not None
}
# tests of a number, constants (math's of an array raises, as the source's)
MATH |= {name: CallSpec(name, ("x",)) for name in ("isnan", "isfinite", "isinf")}
MATH["isclose"] = CallSpec(
    "math_isclose", ("a", "b"), (("rel_tol", 1e-09), ("abs_tol", 0.0))
)

BUILTINS: dict[str, tuple[CallSpec, str | None]] = {
    # name -> (spec, spelling used when printing the call; None: the op's own)
    "abs": (CallSpec("abs", ("x",)), "abs"),
    "float": (CallSpec("float", ("x",)), None),
    "int": (CallSpec("int", ("x",)), None),
    "len": (CallSpec("len", ("obj",)), None),
    "max": (CallSpec("maximum", ("a", "b")), "max"),
    "min": (CallSpec("minimum", ("a", "b")), "min"),
    "pow": (CallSpec("power", ("base", "exp")), "pow"),
}

METHODS: dict[str, CallSpec] = {
    **{
        name: CallSpec(name, ("self",), _REDUCE, positional=1)
        for name in ["sum", "mean", "max", "min", "prod", "any", "all"]
    },
    "cumsum": CallSpec("cumsum", ("self",), (("axis", None),), positional=1),
    "repeat": CallSpec("repeat", ("self", "repeats"), (("axis", None),)),
    "reshape": CallSpec("reshape", ("self", "shape"), variadic=True),
    "transpose": CallSpec("transpose", ("self",), (("axes", None),), variadic=True),
    "dot": CallSpec("dot", ("self", "b")),
    "ravel": CallSpec("ravel", ("self",)),
    "item": CallSpec("item", ("self",)),
    "flatten": CallSpec("ravel", ("self",)),
    "squeeze": CallSpec("squeeze", ("self",), (("axis", None),)),
    "copy": CallSpec("copy", ("self",)),
    "clip": CallSpec("clip", ("self", "min", "max")),
    "argmax": CallSpec("argmax", ("self",), (("axis", None),)),
    "argsort": CallSpec("argsort", ("self",), (("axis", -1),)),
    "argmin": CallSpec("argmin", ("self",), (("axis", None),)),
    "round": CallSpec("round", ("self",), (("decimals", 0),)),
}

# np.linalg's functions of a stack of square matrices (norm and slogdet are
# the prelude's).
LINALG = {
    "inv": CallSpec("inv", ("a",)),
    "det": CallSpec("det", ("a",)),
    "solve": CallSpec("solve", ("a", "b")),
    "cholesky": CallSpec("cholesky", ("a",), (("upper", False),), positional=0),
}

ATTRIBUTES = {"mT": "mT", "T": "T", "shape": "shape", "size": "size", "ndim": "ndim"}

# Support functions of emitted modules, so that emitted code is itself valid
# input (a Hessian differentiates an emitted `f_and_grad`).
RUNTIME: dict[str, CallSpec] = {
    "_check_seed": CallSpec("check_seed", ("function", "seed", "value")),
    "_zeros_grad": CallSpec("zeros_grad", ("x",)),
    "_zeros_buffer": CallSpec("zeros_buffer", ("x",)),
    "_div": CallSpec("div", ("a", "b")),
    "_spread": CallSpec("spread", ("g", "x")),
    "_owned": CallSpec("owned", ("g",)),
    "_listed": CallSpec("listed", ("x",)),
    "_copy": CallSpec("copy", ("x",)),
    "_solve_vec": CallSpec("solve_vec", ("a", "r", "b")),
    "_solve_apply": CallSpec("solve_apply", ("m", "x", "b")),
    "_solve_outer": CallSpec("solve_outer", ("u", "x", "b")),
    "_logabsdet": CallSpec("logabsdet", ("a",)),
    "_slogdet_sign": CallSpec("slogdet_sign", ("a",)),
    "_slope": CallSpec("slope", ("x",)),
    "_copy_arg": CallSpec("copy_arg", ("x",)),
    "_tile_grad": CallSpec("tile_grad", ("g", "x", "reps")),
    "_diag_grad": CallSpec("diag_grad", ("g", "v"), (("k", 0),)),
    "_pad_grad": CallSpec("pad_grad", ("g", "x", "pad_width"), (("mode", "constant"),)),
    "_fit": CallSpec("fit", ("value", "like")),
    "_lower": CallSpec("lower", ("x",), (("diagonal", 1.0),)),
    "_repeat_grad": CallSpec("repeat_grad", ("g", "x", "repeats"), (("axis", None),)),
    "_inexact": CallSpec("inexact", ("x",)),
    "_mean": CallSpec("mean", ("a",)),
    "_count": CallSpec("count", ("x",)),
    "_clip_bound": CallSpec("clip_bound", ("bound", "unbounded")),
    "_diff_order": CallSpec("diff_order", ("n",)),
    "_take_indices": CallSpec("take_indices", ("indices", "n", "mode")),
    "_ndim_at_least": CallSpec("ndim_at_least", ("x", "n", "function")),
    "_not_joined": CallSpec("not_joined", ("a", "b", "op"), (("line", None),)),
    "_unshared": CallSpec("unshared", (), variadic=True),
    "_any_sequence": CallSpec("any_sequence", (), variadic=True),
    "_axis_index": CallSpec("axis_index", ("axis", "ndim")),
    "_merged_shape": CallSpec("merged_shape", ("y",), (("axis", 0),)),
    "_same_shapes": CallSpec(
        "same_shapes", ("items", "function"), (("axis", 0), ("line", None))
    ),
    "_vstack_shape": CallSpec("vstack_shape", ("y",)),
    "_cumsum_grad": CallSpec("cumsum_grad", ("g", "x"), (("axis", None),)),
    "_einsum_grad": CallSpec("einsum_grad", ()),  # (read by calls.einsum)
    "_sum_squares": CallSpec("sum_squares", ("x",), _REDUCE),
    "_mean_squares": CallSpec("mean_squares", ("x",)),
    "_unbroadcast": CallSpec("unbroadcast", ("g", "x")),
    "_keepdims": CallSpec("keepdims", ("g", "x"), (("axis", None),)),
    "_unbroadcast_mul": CallSpec("unbroadcast_mul", ("g", "p", "x")),
    "_extremum_grad": CallSpec("extremum_grad", ("g", "x", "out"), _REDUCE),
    "_prod_grad": CallSpec("prod_grad", ("g", "x"), _REDUCE),
    "_transpose_grad": CallSpec("transpose_grad", ("g",), (("axes", None),)),
    "_concat_grad": CallSpec("concat_grad", (), variadic=True),
    "_hstack_grad": CallSpec("hstack_grad", (), variadic=True),
    "_vstack_grad": CallSpec("vstack_grad", (), variadic=True),
    **{
        f"_{name}": CallSpec(name, ("g", "a", "b"), (("broadcast", False),))
        for name in ["matmul_lhs_grad", "matmul_rhs_grad", "dot_lhs_grad"]
    },
    "_dot_rhs_grad": CallSpec("dot_rhs_grad", ("g", "a", "b"), (("broadcast", False),)),
    "_matmul_lhs_grad_sum": CallSpec("matmul_lhs_grad_sum", ("gs", "a", "bs")),
    "_matmul_rhs_grad_sum": CallSpec("matmul_rhs_grad_sum", ("gs", "as_", "b")),
    # the index arguments of these are written `np.s_[...]`
    "_setitem": CallSpec("setitem", ("x", "index", "value")),
    "_setitem_add": CallSpec("setitem_add", ("x", "index", "value")),
    "_setitem_sub": CallSpec("setitem_sub", ("x", "index", "value")),
    "_mul_into": CallSpec("mul_into", ("buffer", "a", "b")),
    "_add_at": CallSpec("add_at", ("x", "index", "value")),
    "_written_grad": CallSpec("written_grad", ("g", "index", "target", "value")),
    "_zero_at": CallSpec("zero_at", ("g", "index")),
    "_kept_grad": CallSpec("kept_grad", ("g", "index", "target", "value")),
    "_unpacked": CallSpec("unpacked", ("value", "n")),
    "_list_index": CallSpec("list_index", ("items", "i")),
    "_bound": CallSpec("bound", ("value", "name")),
    "_zip_length": CallSpec("zip_length", ("n", "m", "k")),
    "_rule_checked": CallSpec("rule_checked", ("value", "like", "what")),
    "_rule_cotangents": CallSpec("rule_cotangents", ("value", "n", "vjp")),
    "_rule_partial": CallSpec("rule_partial", ("value", "out", "what")),
    "_entries_grad": CallSpec("entries_grad", (), variadic=True),
}
