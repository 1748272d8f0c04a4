"""The on-disk cache: keys, hits without compiling, damage, races, the CLI.

Every test writes its user modules into ``tmp_path`` and clears the
``SYMGRAD_CACHE*`` variables first, so nothing here touches the repository's
own ``__pycache__`` folders.  "No compilation happened" is proved by replacing
``symgrad.api.compile_function`` (and the pipeline behind it) with a function
that raises.
"""

from __future__ import annotations

import importlib.util
import itertools
import multiprocessing
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgrad
import symgrad.api
import symgrad.emit
import symgrad.frontend
import symgrad.source
from symgrad import cache
from symgrad.__main__ import main

ROOT = Path(__file__).resolve().parent.parent

MODEL = """\
import numpy as np

import symgrad

SCALE = 3.0
WEIGHTS = np.array([1.0, 2.0, 3.0])


def inner(u):
    return np.sin(u) * SCALE


def helper(v):
    return inner(v) + v * v


@symgrad.grad
def f(x):
    return np.sum(helper(x) * WEIGHTS)
"""

X = np.array([0.5, -1.0, 2.0])
WEIGHTS = np.array([1.0, 2.0, 3.0])


def expected_grad(x, scale=3.0, weights=WEIGHTS):
    return (np.cos(x) * scale + 2 * x) * weights


_names = itertools.count()
# Python 3.10's code objects keep where instructions start, not where they end:
# a function's lines are parsed when read there
NEEDS_POSITIONS = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="3.10 parses every function it reads"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.delenv("SYMGRAD_CACHE", raising=False)
    monkeypatch.delenv("SYMGRAD_CACHE_DIR", raising=False)


def write(directory: Path, text: str = MODEL, name: str = "model.py") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def import_file(path: Path):
    """Import `path` under a fresh module name (its functions read its source)."""
    spec = importlib.util.spec_from_file_location(
        f"symgrad_cache_test_{next(_names)}", path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def forbid_compiling(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the pipeline ran on a cache hit")

    monkeypatch.setattr(symgrad.api, "compile_function", boom)
    monkeypatch.setattr(symgrad.api, "_pipeline", boom, raising=False)
    monkeypatch.setattr(symgrad.frontend, "lower", boom)
    monkeypatch.setattr(symgrad.emit, "emit_module", boom)


def count_compiles(monkeypatch) -> list[int]:
    calls = [0]
    real = symgrad.api.compile_function

    def counting(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(symgrad.api, "compile_function", counting)
    return calls


def entries_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*" + cache.SUFFIX))


def default_dir(module_path: Path) -> Path:
    return module_path.parent / "__pycache__" / "symgrad"


def python(code: str, cwd: Path, **env_changes: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMGRAD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(cwd)])
    env.update(env_changes)
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def run_python(code: str, cwd: Path, **env_changes: str) -> tuple[str, str]:
    proc = python(code, cwd, **env_changes)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out, err


def run_cli(*args: str, cwd: Path, **env_changes: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMGRAD_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-m", "symgrad", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


# --- where the cache lives, and hits ----------------------------------------


def test_first_use_writes_one_valid_entry_beside_the_module(tmp_path):
    path = write(tmp_path / "src")
    model = import_file(path)
    np.testing.assert_allclose(model.f.grad(X), expected_grad(X))
    [entry] = entries_in(default_dir(path))
    assert entry.name.startswith("f-")
    f = model.f
    key = cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, symgrad.__version__)
    assert entry.read_text().splitlines()[0] == f"# symgrad-cache-key: {key}"
    assert cache.load(entry, key) == model.f.source
    assert not list(default_dir(path).glob("*.tmp"))


HIT_SCRIPT = """
import sys
import symgrad.api
import symgrad.cache
import symgrad.emit
import symgrad.frontend
import symgrad.source

def boom(*args, **kwargs):
    raise AssertionError("compiled on a cache hit")

if sys.argv[-1] == "hit":
    symgrad.cache.compile = boom  # (the code file beside the entry is used)
    symgrad.api.compile_function = boom
    symgrad.api._pipeline = boom
    symgrad.frontend.lower = boom
    symgrad.emit.emit_module = boom
import model
print(repr(model.f.grad(__import__("numpy").array([0.5, -1.0, 2.0])).tolist()))
print(model.f.source, end="")
"""


def test_a_fresh_process_hits_the_cache_without_compiling(tmp_path):
    path = write(tmp_path)
    first = python(HIT_SCRIPT.replace("sys.argv[-1]", "'miss'"), tmp_path)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert len(entries_in(default_dir(path))) == 1
    out2, err2 = run_python(HIT_SCRIPT.replace("sys.argv[-1]", "'hit'"), tmp_path)
    assert out2 == out1
    grad_line = out2.splitlines()[0]
    np.testing.assert_allclose(eval(grad_line), expected_grad(X))
    assert err2 == ""


def test_a_run_time_error_shows_the_emitted_line_in_pythons_traceback(tmp_path):
    # Python's own traceback (3.11, 3.12) reads the file a frame names, never
    # `linecache`: a module from the cache is compiled as its entry's file,
    # numbered as the file is, so the line that raised is shown under it
    write(tmp_path)
    script = "import numpy as np, model\nmodel.f.f_and_grad(np.ones(4))\n"
    for _ in range(2):  # (compiled, then read back from the code beside it)
        proc = python(script, tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        frame = err.split('.symgrad-cache", line ')[1].splitlines()
        assert frame[1].strip() == "t2 = t1 * WEIGHTS"  # ((4,) * (3,))
        assert "operands could not be broadcast" in err
        (entry,) = entries_in(default_dir(tmp_path / "model.py"))
        line = int(frame[0].split(",")[0])
        file_line = entry.read_text(encoding="utf-8").splitlines()[line - 1]
        assert file_line.strip() == frame[1].strip()


GATHERS = """\
import numpy as np


def gathers(x):
    u = np.sin(x)
    v = np.cos(u)
    w = np.tanh(v) * u
    y = np.zeros(3)
    y[[0, 1]] = w[:2]
    z = np.zeros(3)
    z[[1, {}]] = x[1:]
    return np.sum(y) + np.sum(z)
"""


@pytest.mark.parametrize("cached", [False, True])
def test_two_functions_of_one_name_keep_their_own_lines(tmp_path, monkeypatch, cached):
    # a.py's gathers writes z[1] twice (line 11); b.py's, of one name, does
    # not: built second, without the cache, its lines stood in for a.py's
    # under one file name, and the error was put on the line a.py's emitted
    # line number fell on in b.py's module
    if not cached:
        monkeypatch.setenv("SYMGRAD_CACHE", "0")
    a = import_file(write(tmp_path, GATHERS.format(1), name="a_gathers.py"))
    b = import_file(write(tmp_path, GATHERS.format(2), name="b_gathers.py"))
    ga, gb = symgrad.grad(a.gathers), symgrad.grad(b.gathers)
    assert ga.module is not gb.module  # (a built first, then b)
    with pytest.raises(symgrad.errors.RepeatedIndexError) as info:
        ga.grad(np.ones(3))
    assert (info.value.loc.file, info.value.loc.line) == (a.__file__, 11)


def test_building_again_keeps_one_set_of_lines(tmp_path, monkeypatch):
    # a module-level array rebound (the next batch) builds the module again:
    # the lines of the modules built before are not kept (with the cache,
    # Python reads an entry's lines from its file when it needs them)
    import linecache

    path = write(tmp_path)
    model = import_file(path)
    for cached in (True, False):
        if not cached:
            monkeypatch.setenv("SYMGRAD_CACHE", "0")
        g = symgrad.grad(model.f.__wrapped__)
        before = set(linecache.cache)
        for k in range(5):
            model.WEIGHTS = np.array([1.0, 2.0, 3.0 + k])
            g.grad(X)
        assert len(set(linecache.cache) - before) <= (0 if cached else 1)


def test_a_relative_cache_directory_is_made_absolute(tmp_path, monkeypatch):
    # code is compiled under its entry's path, which a later chdir would
    # otherwise change the meaning of
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", "relative")
    assert cache.cache_dir(str(tmp_path / "model.py")) == tmp_path / "relative"


def test_a_second_grad_function_hits_the_cache_in_process(tmp_path, monkeypatch):
    model = import_file(write(tmp_path))
    text = model.f.source
    forbid_compiling(monkeypatch)
    again = symgrad.grad(model.f.__wrapped__)
    assert again.source == text
    np.testing.assert_allclose(again.grad(X), expected_grad(X))
    assert again.module.f_and_grad is not model.f.module.f_and_grad


def test_compiled_still_compiles_on_demand_after_a_hit(tmp_path, monkeypatch):
    model = import_file(write(tmp_path))
    assert model.f.source
    calls = count_compiles(monkeypatch)
    again = symgrad.grad(model.f.__wrapped__)
    again.grad(X)
    assert calls[0] == 0
    assert again.compiled.source == again.source
    assert calls[0] == 1


def test_cache_dir_variable_is_honoured(tmp_path, monkeypatch):
    store = tmp_path / "elsewhere" / "cache"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(store))
    path = write(tmp_path / "src")
    import_file(path).f.grad(X)
    assert len(entries_in(store)) == 1
    assert not default_dir(path).exists()


@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_cache_switched_off_writes_nothing(tmp_path, monkeypatch, value):
    store = tmp_path / "store"
    monkeypatch.setenv("SYMGRAD_CACHE", value)
    path = write(tmp_path / "src")
    model = import_file(path)
    calls = count_compiles(monkeypatch)
    np.testing.assert_allclose(model.f.grad(X), expected_grad(X))
    assert not default_dir(path).exists()
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(store))
    again = symgrad.grad(model.f.__wrapped__)
    np.testing.assert_allclose(again.grad(X), expected_grad(X))
    assert not store.exists()
    assert calls[0] == 2


def test_compile_errors_are_not_cached(tmp_path):
    path = write(
        tmp_path,
        """
        import symgrad

        @symgrad.grad
        def f(x):
            return undefined_helper(x)
        """,
    )
    model = import_file(path)
    for _ in range(2):
        with pytest.raises(symgrad.SymgradError):
            model.f.grad(1.0)
    assert not entries_in(default_dir(path))


def test_emit_cli_stays_uncached(tmp_path):
    write(tmp_path, MODEL.replace("helper(x) * WEIGHTS", "helper(x)"))
    result = run_cli("emit", "model.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "__pycache__" / "symgrad").exists()


# --- the key ------------------------------------------------------------------


def key_of(directory: Path, text: str = MODEL, version: str = "0.1.0", **grad_kw):
    model = import_file(write(directory, text))
    fn = symgrad.grad(model.f.__wrapped__, **grad_kw) if grad_kw else model.f
    return cache.compute_key(fn._src, fn.wrt, fn.wrt_is_tuple, version)


EDITS = {
    "function body": (
        "return np.sum(helper(x) * WEIGHTS)",
        "return np.sum(helper(x) * WEIGHTS) * 1",
    ),
    "helper": ("return inner(v) + v * v", "return inner(v) + v * v * v"),
    "helper of a helper": ("np.sin(u) * SCALE", "np.cos(u) * SCALE"),
    "scalar constant": ("SCALE = 3.0", "SCALE = 3.5"),
    "constant type": ("SCALE = 3.0", "SCALE = 3"),
    "array element": ("[1.0, 2.0, 3.0]", "[1.0, 2.0, 3.5]"),
    "array dtype": (
        "np.array([1.0, 2.0, 3.0])",
        "np.array([1.0, 2.0, 3.0], dtype=np.float32)",
    ),
    "array shape": ("np.array([1.0, 2.0, 3.0])", "np.array([[1.0, 2.0, 3.0]])"),
    "library function": ("import numpy as np\n", "import numpy as np\nsin = np.sin\n"),
}


def test_the_same_program_gives_the_same_key(tmp_path):
    assert key_of(tmp_path / "a") == key_of(tmp_path / "b")


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_edit_changes_the_key(tmp_path, edit):
    old, new = EDITS[edit]
    assert old in MODEL
    edited = MODEL.replace(old, new)
    if edit == "library function":  # `sin` now names np.sin; then np.cos
        base = edited.replace("np.sin(u)", "sin(u)")
        changed = base.replace("sin = np.sin", "sin = np.cos")
        assert key_of(tmp_path / "a", base) != key_of(tmp_path / "b", changed)
        return
    assert key_of(tmp_path / "a") != key_of(tmp_path / "b", edited)


def test_a_constant_a_helpers_default_names_is_in_the_key(tmp_path):
    """`def helper(v, k=K)`: K is read by no code object, but its value (the
    default's, as Python evaluated it) is the helper's."""
    text = MODEL.replace("def helper(v):", "K = 2.0\n\n\ndef helper(v, k=K):")
    text = text.replace("return inner(v) + v * v", "return inner(v) + v * v * k")
    assert key_of(tmp_path / "a", text) != key_of(
        tmp_path / "b", text.replace("K = 2.0", "K = 3.0")
    )


def test_a_custom_rules_derivative_function_is_in_the_key(tmp_path):
    """A Hessian differentiates a custom rule's derivative function, whose
    source (not only its name) is in the key; and one file loaded as two
    modules is two sets of names (cache tester)."""
    text = textwrap.dedent("""
        import numpy as np
        import symgrad


        def softplus_grad(x):
            return 0.5 * (1.0 + np.tanh(0.5 * x))


        @symgrad.rule(grad=softplus_grad)
        def softplus(x):
            return np.logaddexp(0.0, x)


        @symgrad.hessian
        def f(x):
            return np.sum(softplus(x))
        """)
    keys = []
    for i, body in enumerate(("", " + x * x")):
        edited = text.replace("np.tanh(0.5 * x))", f"np.tanh(0.5 * x)){body}")
        f = import_file(write(tmp_path / str(i), edited)).f
        keys.append(cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, "0.1.0"))
    assert keys[0] != keys[1]


def test_one_file_loaded_as_two_modules_is_two_sets_of_names(tmp_path, monkeypatch):
    """A script run as __main__ and imported by a module it calls: its
    helper `g` in each reads its own SCALE, both in the key (the second was
    taken for the first, found already: cache tester)."""
    write(tmp_path, "import prog\n\n\ndef k(x):\n    return prog.g(x)\n", "other.py")
    path = write(tmp_path, PROG, "prog.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "prog", raising=False)
    monkeypatch.delitem(sys.modules, "other", raising=False)
    main = import_file(path)  # (the script, as __main__ is a module of its own)
    keys = []
    for scale in (2.0, 5.0):
        sys.modules["prog"].SCALE = scale  # (the imported copy's, found second)
        keys.append(cache.compute_key(main.f._src, ("x",), False, "0.1.0"))
    assert keys[0] != keys[1]


PROG = """\
import symgrad

import other
import prog  # noqa: F401 (other reads prog.g)

SCALE = 1.0


def g(x):
    return SCALE * x * x


def h(x):
    return g(x)


@symgrad.grad
def f(x):
    return other.k(x) + h(x)
"""


def test_a_function_imported_from_a_zip_archive_has_its_text_in_the_key(
    tmp_path, monkeypatch
):
    """linecache reads a zip archive's module through its loader, given the
    module's globals; without them the key's text was empty, one key for
    every such function of a name (cache tester)."""
    import zipfile

    keys = []
    for i, body in enumerate(("x * x", "x * x * x")):
        archive = tmp_path / f"lib{i}.zip"
        source = f"import symgrad\n\n\n@symgrad.grad\ndef f(x):\n    return {body}\n"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(f"zipped{i}.py", source)
        monkeypatch.syspath_prepend(str(archive))
        f = importlib.import_module(f"zipped{i}").f
        assert f._src.text.endswith(f"return {body}\n")
        assert f.f_and_grad(3.0) == ((9.0, 6.0) if i == 0 else (27.0, 27.0))
        keys.append(cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, "0.1.0"))
    assert keys[0] != keys[1]


def test_a_helper_made_a_generator_past_its_text_misses(tmp_path):
    """A `yield` in dead code after a helper's return, on a line the cut of
    its text misses (a string reaching the margin before it), makes it a
    generator: its code object's flags are in the key (cache tester)."""
    helper = '''

        def g(x):
            return x * x
            s = """
        """{}


        @symgrad.grad
        def f(x):
            return g(x) * 2.0
        '''
    keys = []
    for tail in ("", " + (yield)"):
        text = MODEL + textwrap.dedent(helper).format(tail)
        f = import_file(write(tmp_path / str(len(keys)), text)).f
        keys.append(cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, "0.1.0"))
    assert keys[0] != keys[1]


def test_a_global_named_like_a_parameter_is_not_in_the_key(tmp_path):
    """`def g(x, SCALE)` reads its parameter: the module's SCALE (the data of
    a training loop's `for SCALE in ...`) does not enter the key."""
    text = MODEL + "\n\n@symgrad.grad\ndef g(x, SCALE):\n    return x * SCALE\n"
    keys = []
    for value in ("3.0", "4.0"):
        model = import_file(write(tmp_path / value, text.replace("3.0", value)))
        g = model.g
        keys.append(cache.compute_key(g._src, g.wrt, g.wrt_is_tuple, "0.1.0"))
    assert keys[0] == keys[1]


def test_wrt_and_version_change_the_key(tmp_path):
    text = MODEL.replace("def f(x):", "def f(x, y=2.0):")
    keys = {
        key_of(tmp_path / "a", text),
        key_of(tmp_path / "b", text, wrt="y"),
        key_of(tmp_path / "c", text, wrt=("x",)),
        key_of(tmp_path / "d", text, wrt=("x", "y")),
        key_of(tmp_path / "e", text, version="9.9.9"),
    }
    assert len(keys) == 5
    assert key_of(tmp_path / "f", text, wrt=0) == key_of(tmp_path / "g", text)


def test_a_new_version_recompiles(tmp_path, monkeypatch):
    model = import_file(write(tmp_path))
    text = model.f.source
    calls = count_compiles(monkeypatch)
    assert symgrad.grad(model.f.__wrapped__).source == text
    assert calls[0] == 0
    monkeypatch.setattr(symgrad.api, "__version__", "99.0.0")
    assert "99.0.0" in symgrad.grad(model.f.__wrapped__).source
    assert calls[0] == 1
    assert len(entries_in(default_dir(tmp_path / "model.py"))) == 2


def test_the_key_does_not_depend_on_the_hash_seed(tmp_path):
    write(tmp_path)
    code = """
    import model
    from symgrad import cache
    f = model.f
    print(cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, "0.1.0"))
    """
    keys = {run_python(code, tmp_path, PYTHONHASHSEED=s)[0] for s in ("1", "2")}
    assert len(keys) == 1


def test_editing_a_helper_file_recompiles_in_a_fresh_process(tmp_path):
    write(tmp_path)
    code = """
    import numpy as np
    import model
    print(repr(model.f.grad(np.array([0.5, -1.0, 2.0])).tolist()))
    """
    first, _ = run_python(code, tmp_path)
    np.testing.assert_allclose(eval(first), expected_grad(X))
    write(tmp_path, MODEL.replace("SCALE = 3.0", "SCALE = 5.0"))
    second, _ = run_python(code, tmp_path)
    np.testing.assert_allclose(eval(second), expected_grad(X, scale=5.0))
    assert len(entries_in(default_dir(tmp_path / "model.py"))) == 2


# --- damaged entries ------------------------------------------------------------


def _truncate_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_payload_byte(data: bytes) -> bytes:
    i = len(data) - 10
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


WRONG = b"""
_right = f_and_grad


def f_and_grad(*args, **kwargs):
    value, gradient = _right(*args, **kwargs)
    return value, 2 * gradient
"""


def _wrong_gradient(data: bytes) -> bytes:  # still valid Python, still runs
    return data + WRONG


def _other_key(data: bytes) -> bytes:
    head, rest = data.split(b"\n", 1)
    return head[:-4] + b"0000\n" + rest


DAMAGE = {
    "empty": lambda data: b"",
    "truncated": _truncate_half,
    "headers only": lambda data: b"\n".join(data.split(b"\n")[:2]) + b"\n",
    "corrupted byte": _flip_payload_byte,
    "edited payload": _wrong_gradient,
    "other key": _other_key,
    "not utf-8": lambda data: data.replace(b"Gradient", b"\xff\xfe"),
    "garbage": lambda data: os.urandom(200),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, monkeypatch, damage):
    path = write(tmp_path)
    model = import_file(path)
    good = model.f.source
    [entry] = entries_in(default_dir(path))
    original = entry.read_bytes()
    damaged = DAMAGE[damage](original)
    assert damaged != original
    entry.write_bytes(damaged)
    calls = count_compiles(monkeypatch)
    again = symgrad.grad(model.f.__wrapped__)
    np.testing.assert_allclose(again.grad(X), expected_grad(X))
    assert again.source == good
    assert calls[0] == 1
    assert entry.read_bytes() == original


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_code_file_is_ignored_and_rewritten(tmp_path, monkeypatch, damage):
    """The compiled code beside an entry is used only for that entry's text
    and when its checksum holds; otherwise the text is compiled again."""
    path = write(tmp_path)
    model = import_file(path)
    model.f.grad(X)
    [entry] = entries_in(default_dir(path))
    code_file = cache.code_path(entry)
    original = code_file.read_bytes()
    code_file.write_bytes(DAMAGE[damage](original))
    compiles = []
    monkeypatch.setattr(
        cache, "compile", lambda *a: compiles.append(a) or compile(*a), raising=False
    )
    again = symgrad.grad(model.f.__wrapped__)
    np.testing.assert_allclose(again.grad(X), expected_grad(X))
    assert len(compiles) == 1
    assert code_file.read_bytes() == original
    compiles.clear()
    np.testing.assert_allclose(
        symgrad.grad(model.f.__wrapped__).grad(X), expected_grad(X)
    )
    assert compiles == []  # (read back, not compiled)


def test_a_code_file_for_another_text_is_not_used(tmp_path):
    """The code file names the text and file name it was compiled from."""
    path = write(tmp_path)
    model = import_file(path)
    model.f.grad(X)
    [entry] = entries_in(default_dir(path))
    filename = str(entry)  # (what a module from the cache is compiled as)
    assert cache.load_code(entry, model.f.source, filename) is not None
    assert cache.load_code(entry, model.f.source + "\n", filename) is None
    assert cache.load_code(entry, model.f.source, filename + "x") is None


# --- concurrency and unwritable places ------------------------------------------


def _race_worker(model_path, start, results) -> None:
    """One process: wait for the others, then compile (or load) and report."""
    try:
        model = import_file(Path(model_path))
        start.wait(timeout=60)
        grad = model.f.grad(X)
        results.put(("ok", grad.tolist(), model.f._compiled is not None))
    except BaseException as exc:  # reported to the parent, never swallowed
        results.put(("error", repr(exc), False))


def test_eight_processes_compiling_at_once(tmp_path, monkeypatch):
    """Forked (so symgrad is already imported) and released by one barrier."""
    store = tmp_path / "store"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(store))
    path = write(tmp_path)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    start, results = context.Barrier(8), context.Queue()
    procs = [
        context.Process(target=_race_worker, args=(str(path), start, results))
        for _ in range(8)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for status, grad, _ in reports:
        assert status == "ok", grad
        np.testing.assert_allclose(grad, expected_grad(X))
    assert any(compiled for _, _, compiled in reports)
    [entry] = entries_in(store)
    assert not list(store.glob(".*"))
    f = import_file(path).f
    key = cache.compute_key(f._src, f.wrt, f.wrt_is_tuple, symgrad.__version__)
    assert cache.load(entry, key) == f.compiled.source


def _no_output_no_warning(capfd, model_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = import_file(model_path)
        np.testing.assert_allclose(model.f.grad(X), expected_grad(X))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_cache_dir_is_a_regular_file(tmp_path, monkeypatch, capfd):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(blocker))
    _no_output_no_warning(capfd, write(tmp_path / "src"))
    assert blocker.read_text() == "not a directory"


def test_cache_dir_under_a_regular_file(tmp_path, monkeypatch, capfd):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(blocker / "cache"))
    _no_output_no_warning(capfd, write(tmp_path / "src"))


def test_default_dir_blocked_by_a_file(tmp_path, capfd):
    path = write(tmp_path)
    (tmp_path / "__pycache__").write_text("a file where the folder should be")
    _no_output_no_warning(capfd, path)


def test_writes_that_fail_fall_back_silently(tmp_path, monkeypatch, capfd):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    path = write(tmp_path)
    _no_output_no_warning(capfd, path)
    assert not list(default_dir(path).iterdir())  # the temporary file is gone


def test_permission_denied_falls_back_silently(tmp_path, monkeypatch, capfd):
    """What a read-only directory does for a user that is not root."""

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    path = write(tmp_path)
    monkeypatch.setattr(Path, "mkdir", denied)
    monkeypatch.setattr(Path, "read_bytes", denied)
    _no_output_no_warning(capfd, path)
    assert not default_dir(path).exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="needs file permissions that apply (not root, not Windows)",
)
def test_read_only_directory(tmp_path, capfd):
    path = write(tmp_path / "src")
    path.parent.chmod(0o555)
    try:
        _no_output_no_warning(capfd, path)
        assert not default_dir(path).exists()
    finally:
        path.parent.chmod(0o755)


def test_unwritable_cache_in_a_fresh_process_prints_nothing(tmp_path):
    write(tmp_path)
    (tmp_path / "blocker").write_text("")
    out, err = run_python(
        HIT_SCRIPT.replace("sys.argv[-1]", "'miss'"),
        tmp_path,
        SYMGRAD_CACHE_DIR=str(tmp_path / "blocker" / "cache"),
    )
    assert err == ""
    np.testing.assert_allclose(eval(out.splitlines()[0]), expected_grad(X))


# --- the command line -----------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`python -m symgrad *args` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cache_info_counts_entries_and_bytes(tmp_path, monkeypatch, capsys):
    path = write(tmp_path)
    import_file(path).f.grad(X)
    [entry] = entries_in(default_dir(path))
    monkeypatch.chdir(tmp_path)
    for args in (["--dir", str(tmp_path)], ["--dir", str(default_dir(path))], []):
        code, out, err = cli(capsys, "cache", "info", *args)
        assert code == 0, err
        assert "SYMGRAD_CACHE_DIR" in out
        assert "SYMGRAD_CACHE=0" in out
        assert f"directory: {default_dir(path)}\n" in out
        assert "entries: 1\n" in out
        size = entry.stat().st_size + cache.code_path(entry).stat().st_size
        assert f"bytes: {size}\n" in out
    code = cache.code_path(entry)
    entry.unlink()  # a code file left without its entry still takes room
    _, out, _ = cli(capsys, "cache", "info")
    assert "entries: 0\n" in out and f"bytes: {code.stat().st_size}\n" in out


def test_cache_info_follows_the_variables(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(store))
    import_file(write(tmp_path / "src")).f.grad(X)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "cache", "info")
    assert code == 0
    assert f"directory: {store}\n" in out
    assert "entries: 1\n" in out
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    code, out, _ = cli(capsys, "cache", "info")
    assert "cache: off" in out
    monkeypatch.delenv("SYMGRAD_CACHE_DIR")
    code, out, _ = cli(capsys, "cache", "info")
    assert "entries: 0\n" in out


def test_cache_clear_removes_only_cache_files(tmp_path, monkeypatch, capsys):
    path = write(tmp_path)
    model = import_file(path)
    model.f.grad(X)
    symgrad.grad(model.f.__wrapped__, wrt=("x",)).grad(X)
    directory = default_dir(path)
    assert len(entries_in(directory)) == 2
    stray = directory / f".f-{'0' * 32}.123.abcd.tmp"
    stray.write_text("left by a crash")
    keep = directory / "notes.txt"
    keep.write_text("mine")
    code, out, err = cli(capsys, "cache", "clear", "--dir", str(tmp_path))
    assert code == 0, err
    assert "removed 5" in out  # two entries, their code files and the stray
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "cache", "clear")
    assert code == 0 and "removed 0" in out


def test_cache_commands_in_a_fresh_process(tmp_path):
    path = write(tmp_path)
    import_file(path).f.grad(X)
    info = run_cli("cache", "info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "entries: 1\n" in info.stdout
    cleared = run_cli("cache", "clear", cwd=tmp_path)
    assert cleared.returncode == 0, cleared.stderr
    assert "files: 2 " in info.stdout  # (what clear counts)
    assert "removed 2" in cleared.stdout  # the entry and its code file
    assert not entries_in(default_dir(path))


@pytest.mark.parametrize(
    "args", [["cache", "--help"], ["cache", "info", "--help"], ["cache", "clear", "-h"]]
)
def test_cache_help(capsys, args):
    code, out, _ = cli(capsys, *args)
    assert code == 0
    assert "usage:" in out


@pytest.mark.parametrize(
    "args",
    [
        ["cache"],
        ["cache", "purge"],
        ["cache", "info", "--bogus"],
        ["cache", "clear", "x"],
    ],
)
def test_cache_usage_errors_exit_2(capsys, args):
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert "usage:" in err


def test_cache_dir_that_is_a_file_is_a_usage_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.chdir(tmp_path)
    for action in ("info", "clear"):
        code, _, err = cli(capsys, "cache", action, "--dir", "file")
        assert code == 2
        assert "not a directory" in err
    assert (tmp_path / "file").exists()


def test_a_cache_hit_imports_neither_sympy_nor_black(tmp_path):
    """Loading cached modules must stay cheap: sympy and black (together about
    300 ms to import) load only when something is compiled."""
    write(tmp_path)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import model
        model.f.grad(2.0)
        print("sympy" in sys.modules, "black" in sys.modules)
        """)
    env = dict(os.environ, SYMGRAD_CACHE="1", SYMGRAD_CACHE_DIR=str(tmp_path / "c"))
    env["PYTHONPATH"] = str(Path(symgrad.__file__).resolve().parent.parent)
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.decode().split() == ["False", "False"]


@NEEDS_POSITIONS
def test_a_cache_hit_parses_nothing(tmp_path, monkeypatch):
    """A decorated function's text, parameters and names come from its file's
    lines and its code object; where the cache holds its module, neither the
    decorator's syntax check nor the key parses it (a quarter of the load)."""
    model = import_file(write(tmp_path))
    assert model.f.source

    def boom(*args, **kwargs):
        raise AssertionError("parsed on a cache hit")

    parse = symgrad.source._parse
    monkeypatch.setattr(symgrad.source, "_parse", boom)
    forbid_compiling(monkeypatch)
    again = symgrad.grad(model.f.__wrapped__)
    np.testing.assert_allclose(again.grad(X), expected_grad(X))
    assert "tree" not in again._src.__dict__
    # a miss (a tuple wrt: another key) parses, and checks the syntax
    monkeypatch.setattr(symgrad.source, "_parse", parse)
    other = symgrad.grad(model.f.__wrapped__, wrt=("x",))
    assert "tree" in other._src.__dict__


def test_a_name_bound_below_the_function_misses_at_the_first_call(
    tmp_path, monkeypatch
):
    """The decorator's key (it skips the syntax check) is taken before the
    module's later lines run; the first call computes the key again, when a
    builtin's name (`abs`) may be the module's own function (cache tester)."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    text = "import numpy as np\nimport symgrad\n\n\n@symgrad.grad\ndef f(x):\n"
    text += "    return abs(x) * x\n"
    first = import_file(write(tmp_path / "a", text))
    assert first.f.f_and_grad(-3.0) == (-9.0, 6.0)
    below = text + "\n\ndef abs(x):\n    return x * x * x\n"
    second = import_file(write(tmp_path / "b", below))
    assert second.f.f_and_grad(-3.0) == (81.0, -108.0)


def test_a_string_that_reaches_the_margin_is_in_the_key(tmp_path):
    """The text is cut where the last instruction ends: the lines of a string
    (or bracket) back at the margin are in it, and an edit there misses."""
    text = MODEL + '\n\n@symgrad.grad\ndef g(x):\n    return x * len("""ab\ncd""")\n'
    keys = []
    for i, edited in enumerate((text, text.replace('cd"""', 'cde"""'))):
        g = import_file(write(tmp_path / str(i), edited)).g
        assert g.grad(2.0) == len(edited.split('len("""')[1].split('"""')[0])
        keys.append(cache.compute_key(g._src, g.wrt, g.wrt_is_tuple, "0.1.0"))
        assert g._src.text.endswith('cd""")\n' if i == 0 else 'cde""")\n')
    assert keys[0] != keys[1]


def test_dead_code_past_the_cut_is_in_the_key_once_parsed(tmp_path, monkeypatch):
    """Dead code after a return may end in a bracket at the margin, which the
    cut misses: once parsed, the text is the parsed function's, so an edit
    there (an `assert`, refused) misses the entry the first version made
    (the decorator's check was skipped: reviewer)."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    text = MODEL + textwrap.dedent("""

        @symgrad.grad
        def g(x):
            if x > 0.0:
                return x * 2.0
            else:
                return x * 5.0
            return x * (3.0
        )
        """)
    g = import_file(write(tmp_path / "a", text)).g
    assert g.grad(1.0) == 2.0
    edited = text.replace("\n)\n", "\n); assert x\n")
    with pytest.raises(symgrad.SymgradError, match="'assert' statements"):
        import_file(write(tmp_path / "b", edited))


@NEEDS_POSITIONS
def test_the_text_read_without_parsing_is_the_parsed_functions():
    """For every function of the test tables: the text cut by the code
    object's lines is the parsed function's, from its first decorator to its
    last line, and its parameters are the AST's."""
    from flow_functions import FLOW_CASES
    from functions import CASES

    seen = set()
    for case in CASES + FLOW_CASES:
        fn = getattr(case.fn, "__wrapped__", case.fn)
        if fn in seen:
            continue
        seen.add(fn)
        src = symgrad.source.from_function(fn)
        assert src.cut is not None, case.name
        text, params, keyword_only = src.text, src.params, src.keyword_only
        tree = src.tree
        first = min([tree.lineno] + [d.lineno for d in tree.decorator_list])
        assert text == "".join(src.lines[first - 1 : tree.end_lineno]), case.name
        args = tree.args
        assert params == tuple(a.arg for a in args.args + args.kwonlyargs)
        assert keyword_only == tuple(a.arg for a in args.kwonlyargs)
    assert len(seen) > 300


def test_changing_a_custom_rule_misses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE", "1")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "c"))
    sources = []
    for i, marker in enumerate(
        ["@symgrad.rule(grad=twice)", "@symgrad.nondifferentiable"]
    ):
        text = f"""
            import numpy as np
            import symgrad

            def twice(x):
                return 2.0 * x

            {marker}
            def square(x):
                return x * x

            @symgrad.grad
            def f(x):
                return np.sum(square(x) + x)
            """
        path = write(tmp_path, textwrap.dedent(text), name="rules_model.py")
        module = import_file(path)
        sources.append(module.f.source)
        assert module.f.grad(np.ones(2)).tolist() == (
            [3.0, 3.0] if i == 0 else [1.0, 1.0]
        )
    assert sources[0] != sources[1]


def test_a_code_file_names_the_interpreter_and_its_optimization_level(
    tmp_path, monkeypatch
):
    """Bytecode compiled under `python -OO` has no docstrings: it is not
    used by a plain run (nor by another interpreter or bytecode format)."""
    path = write(tmp_path)
    model = import_file(path)
    model.f.grad(X)
    [entry] = entries_in(default_dir(path))
    filename = str(entry)  # (what a module from the cache is compiled as)
    assert cache.load_code(entry, model.f.source, filename) is not None

    class Flags:
        optimize = 2

    monkeypatch.setattr(cache.sys, "flags", Flags)
    assert cache.load_code(entry, model.f.source, filename) is None


def test_the_compiler_fingerprint_is_kept_under_the_sources_stamps(
    tmp_path, monkeypatch
):
    """The digest of symgrad's sources is kept in its `__pycache__` beside
    their sizes and modification times (Python's own trust for `.pyc`):
    the same sources give the same digest from the memo, an edited one a new
    digest, and a damaged or unwritable memo is only recomputed."""
    package = tmp_path / "symgrad"
    package.mkdir()
    for source in (ROOT / "symgrad").glob("*.py"):
        (package / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(cache, "__file__", str(package / "cache.py"))

    def fingerprint() -> str:
        cache._compiler_fingerprint.cache_clear()
        return cache._compiler_fingerprint()

    try:
        first = fingerprint()
        memo = next((package / "__pycache__").glob("symgrad-fingerprint.*"))
        assert first in memo.read_text()
        memo.write_text(memo.read_text().split()[0] + " " + "0" * 64)
        assert fingerprint() == "0" * 64  # (the memo is trusted under its stamp)
        with open(package / "rules.py", "a") as file:
            file.write("# edited\n")
        edited = fingerprint()
        assert edited not in (first, "0" * 64) and edited in memo.read_text()
        memo.write_text("damaged")
        assert fingerprint() == edited
        memo.unlink()
        monkeypatch.setattr(cache, "_write", lambda path, data: False)
        assert fingerprint() == edited  # (not writable: hashed, not kept)
        assert not memo.exists()
    finally:
        cache._compiler_fingerprint.cache_clear()


def test_a_function_moved_down_its_file_is_compiled_again(tmp_path, monkeypatch):
    # run-time checks name their source line (`_not_joined(a, b, "+",
    # line=9)`): an entry made before lines were added above the function
    # pointed its error at the line the join was on then (reviewer)
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    text = """
        import numpy as np
        import symgrad


        @symgrad.grad
        def joined(a, b):
            return np.sum(np.asarray(a + b) ** 2)
        """
    for above in ("", "# a comment\n# and another\n"):
        path = write(tmp_path / f"m{len(above)}", above + textwrap.dedent(text))
        module = import_file(path)
        with pytest.raises(symgrad.errors.JoinError) as info:
            module.joined.grad([1.0], [2.0])
        (line,) = [n for n, ln in enumerate(open(path), 1) if "a + b" in ln]
        assert info.value.loc.line == line
    assert len(list((tmp_path / "cache").glob("joined-*.symgrad-cache"))) == 2
