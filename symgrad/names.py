"""Names in generated code: fresh, deterministic, and never clashing.

`Names` hands out variable names for one compilation (`x`, `x_1`, `t1`,
`x_bar`...); `RESERVED` lists the names a generated module defines or imports,
which user variables and parameters may never take.
"""

from __future__ import annotations

from . import runtime

# Names the emitted module defines or imports; user variables never take them.
RESERVED = {"np", "math", "seed", "tangents", "f_and_grad", "f_and_jvp", "grad_and_hvp"}
RESERVED |= {
    name
    for name, obj in vars(runtime).items()
    if (name.startswith("_") and not name.startswith("__"))
    or (isinstance(obj, type) and obj.__module__ == runtime.__name__)
}


class Names:
    """Deterministic fresh names: `x`, `x_1`, `x_2`; temporaries `t1`, `t2`.

    `taken` are names already allocated; temporaries also avoid `avoid`, the
    names the source uses, so a temporary never shadows a later user name."""

    def __init__(self, taken: set[str], avoid: set[str] = frozenset()):
        self.taken = set(taken)
        self.avoid = set(avoid)
        self.temps = 0
        self.made_temps: set[str] = set()
        self._next: dict[str, int] = {}  # base -> where its next search starts

    def fresh(self, base: str | None = None) -> str:
        if base is None:
            while True:
                self.temps += 1
                name = f"t{self.temps}"
                if name not in self.taken and name not in self.avoid:
                    self.made_temps.add(name)
                    break
        else:
            # names are never given back, so the search resumes where the last
            # one for `base` ended (linear, not quadratic, in reassignments)
            n = self._next.get(base, 0)
            name = base if n == 0 else f"{base}_{n}"
            while name in self.taken:
                n += 1
                name = f"{base}_{n}"
            self._next[base] = n
        self.taken.add(name)
        return name
