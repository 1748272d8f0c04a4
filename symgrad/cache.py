"""On-disk cache of emitted modules, so a program that starts again does not
compile again.

Where: ``$SYMGRAD_CACHE_DIR`` when set, else ``__pycache__/symgrad/`` beside
the file that defines the decorated function.  ``SYMGRAD_CACHE=0`` turns the
cache off.  Both are read at each lookup, not at import.

Guarantees:

* The key is a SHA-256 over everything the emitted text depends on: the
  decorated function's source text, file name and first line (run-time
  checks name their line); for every global name it
  uses (those its code object reads, so a parameter `X` never brings in a
  module's `X`), and for every `m.name` of a module `m` of the user's, what
  that name resolves to (the source text of user functions, followed
  transitively; a stable description of constants, arrays included; which
  numpy/math function a name means, or that it is a builtin, whose meaning
  symgrad's own sources fix); the normalized ``wrt``; the
  symgrad version; a fingerprint of symgrad's own source files; and the
  Python, numpy, sympy and black versions.  Editing any of them gives a new key.
* An entry is one file: a line with the full key, a line with the SHA-256 of
  the payload, then the module text.  A file whose key line, checksum or
  length does not match (truncated, corrupted, edited) is ignored, and the
  freshly compiled text replaces it.
* Beside an entry, a second file holds the compiled code object of its text
  (``marshal``), with a SHA-256 of the text, the file name and the
  interpreter that compiled it (bytecode magic, implementation, ``-O``
  level), and a checksum of its own; a load in a new process then skips
  ``compile()``.  A code file that does
  not match is ignored and rewritten, like an entry.
* Writes are atomic: a temporary file in the cache directory, then
  ``os.replace``.  Readers see a whole old entry, a whole new one or none, so
  any number of processes may compile the same function at once.
* The cache never makes a program fail: an unwritable or unreadable cache
  directory, or a name that cannot be described, means compiling in memory,
  silently (no error, no warning).  Compile errors are never cached.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import marshal
import os
import re
import secrets
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .resolve import (
    Constant,
    CustomFunction,
    LibFunction,
    LiveResolver,
    Module,
    UserFunction,
    UserModule,
    member_reads,
)
from .source import FunctionSource, from_function, nodes

FORMAT = "symgrad-cache-v1"
KEY_PREFIX = "# symgrad-cache-key: "
SUM_PREFIX = "# symgrad-cache-sha256: "
SUFFIX = ".symgrad-cache"
# An entry is its key's and its checksum's lines (comments), then the text:
# the text's line n is the file's line n + HEADER_LINES.
HEADER_LINES = 2
DIR_ENV = "SYMGRAD_CACHE_DIR"
SWITCH_ENV = "SYMGRAD_CACHE"
DEFAULT_SUBDIR = Path("__pycache__", "symgrad")
RULE = (
    f"${DIR_ENV} if set, else {DEFAULT_SUBDIR.as_posix()}/ beside the file that "
    f"defines each decorated function; {SWITCH_ENV}=0 turns the cache off"
)

CODE_SUFFIX = ".symgrad-code"
CODE_FORMAT = b"symgrad-code-v1"
_ENTRY = re.compile(r"^[A-Za-z0-9_]+-[0-9a-f]{32}" + re.escape(SUFFIX) + r"$")
_CODE = re.compile(r"^[A-Za-z0-9_]+-[0-9a-f]{32}" + re.escape(CODE_SUFFIX) + r"$")
_TEMP = re.compile(r"^\.[A-Za-z0-9_]+-[0-9a-f]{32}\..*\.tmp$")


# --- where -----------------------------------------------------------------


def enabled() -> bool:
    """False when ``SYMGRAD_CACHE`` is 0 (or false/no/off)."""
    value = os.environ.get(SWITCH_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def cache_dir(module_file: str) -> Path | None:
    """The cache directory for functions defined in `module_file`, or None."""
    if not enabled():
        return None
    override = os.environ.get(DIR_ENV)
    if override:  # (absolute: code is compiled under an entry's path)
        return Path(override).resolve()
    if not os.path.isfile(module_file):  # e.g. "<string>": nowhere to put it
        return None
    return Path(module_file).resolve().parent / DEFAULT_SUBDIR


def entry_path(directory: Path, name: str, key: str) -> Path:
    """The file of the entry for function `name` under `key`."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)[:64] or "f"
    return directory / f"{safe}-{key[:32]}{SUFFIX}"


# --- the key ---------------------------------------------------------------


def compute_key(
    src: FunctionSource, wrt: tuple[str, ...], wrt_is_tuple: bool, version: str
) -> str:
    """SHA-256 (hex) of everything the emitted module for `src` depends on."""
    material = key_material(src, wrt, wrt_is_tuple, version)
    text = json.dumps(material, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def key_material(
    src: FunctionSource, wrt: tuple[str, ...], wrt_is_tuple: bool, version: str
) -> list[Any]:
    """The hashed parts of the key, as JSON-ready lists (for debugging)."""
    return [
        FORMAT,
        ["symgrad", version, _compiler_fingerprint()],
        ["toolchain", *_toolchain()],
        ["wrt", list(wrt), wrt_is_tuple],
        *dependencies(src),
    ]


def dependencies(src: FunctionSource) -> list[list[str]]:
    """`src` and everything its names resolve to, user functions transitively."""
    parts: list[list[str]] = []
    visited: set[tuple[str, int, str]] = set()
    pending = [src]
    while pending:
        fn = pending.pop(0)
        # (one file loaded as two modules holds two functions: their globals)
        where = id(getattr(fn.resolver, "globals", None))
        ident = (fn.file, fn.first_line, fn.name, where, *_captured(fn))
        if ident in visited:
            continue
        visited.add(ident)
        # (its first line too: emitted checks pass their source line, `line=9`)
        where_at = [os.path.basename(fn.file), str(fn.first_line)]
        parts.append(["function", fn.name, *where_at, fn.text])
        for name, value in sorted(getattr(fn.resolver, "defaults", {}).items()):
            # (a helper's default may name a module constant: `eps=EPS`; a
            # default of another kind is refused when compiling)
            described = describe_value(value) if constant(value) else "other"
            parts.append(["default", name, described])
        live = fn.resolver if isinstance(fn.resolver, LiveResolver) else None
        if live:  # (a `yield` in dead code past the text makes it a generator)
            parts.append(["flags", str(live.code.co_flags)])
        for name in live.global_names() if live else global_names(fn.tree):
            if live and not live.bound(name):
                # a builtin (or an attribute's name): symgrad's prelude
                # defines `sum`, fingerprinted with symgrad's sources
                parts.append(["name", name, "builtin"])
                continue
            found = fn.resolver.resolve(name) if fn.resolver is not None else None
            parts.append(["name", name, *_describe(found)])
            if isinstance(found, UserFunction):
                pending.append(found.source)
            pending += _derivative_functions(found)
        for dotted, _, _, found in member_reads(fn):  # `L.dense`
            parts.append(["member", dotted, *_describe(found)])
            if isinstance(found, UserFunction):
                pending.append(found.source)
    return parts


def _derivative_functions(found: Any) -> list[FunctionSource]:
    """The sources of a custom rule's derivative functions, which a Hessian
    or a Jacobian differentiates in turn (a live function's; from a file,
    its rule is all the key holds)."""
    if not isinstance(found, CustomFunction) or not found.functions:
        return []
    return [
        from_function(f, LiveResolver(f))
        for name, f in sorted(found.functions.items())
        if isinstance(f, types.FunctionType) and name != found.rule.name
    ]


def _captured(fn: FunctionSource) -> list[str]:
    """What a live function reads from enclosing functions, described: two
    closures of one `def` are two dependencies when they hold other values."""
    cells = getattr(fn.resolver, "cells", {})
    return [f"{name}={_describe(fn.resolver.resolve(name))}" for name in sorted(cells)]


def global_names(tree: ast.FunctionDef) -> list[str]:
    """Every name read in `tree`, including the bases of attribute chains."""
    names = set()
    for node in nodes(tree):
        if node.__class__ is ast.Name and node.ctx.__class__ is ast.Load:
            names.add(node.id)
        elif node.__class__ is ast.Attribute:
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return sorted(names)


def _describe(found: Any) -> list[str]:
    if found is None:
        return ["unresolved"]
    if isinstance(found, Module):
        return ["module", found.lib]
    if isinstance(found, UserModule):
        return ["user module", found.name]
    if isinstance(found, LibFunction):
        return ["library", found.lib, found.name]
    if isinstance(found, Constant):
        return ["constant", found.name, describe_value(found.value)]
    if isinstance(found, UserFunction):
        return ["user", found.source.name, os.path.basename(found.source.file)]
    if isinstance(found, CustomFunction):  # the rule decides the emitted code
        rule = found.rule
        grads = ["-" if g is None else g for g in rule.grads or ()]
        return ["custom", rule.name, str(rule.arity), *grads, str(rule.vjp)] + [
            str(rule.jvp),
            str(rule.nondiff),
        ]
    return ["other", type(found).__name__]


def constant(value: Any) -> bool:
    """A number, string, None, array or tuple of those: `describe_value`
    tells each apart (of an object, its text holds its address)."""
    if isinstance(value, tuple):
        return all(map(constant, value))
    return value is None or isinstance(
        value, bool | int | float | complex | str | np.ndarray | np.generic
    )


def describe_value(value: Any) -> str:
    """A stable, exact text for a constant: type, dtype, shape and every bit."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.tobytes()).hexdigest()
        return f"ndarray {data.dtype.str} {list(data.shape)} {digest}"
    if isinstance(value, np.generic):
        return f"{type(value).__name__} {value.dtype.str} {value.item()!r}"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    return f"{type(value).__name__} {value!r}"


@functools.lru_cache(maxsize=1)
def _compiler_fingerprint() -> str:
    """SHA-256 of symgrad's own sources: a changed compiler misses the cache.

    Hashing them (640 KB) costs a millisecond per process, so the digest is
    kept in symgrad's `__pycache__` under the files' names, sizes and
    modification times, which is how Python trusts its own `.pyc` files: a
    source edited in any way that changes one of them is hashed again.
    Where that directory is not writable, the sources are hashed each time."""
    here = Path(__file__).resolve().parent
    sources = sorted(
        (entry.name, entry.stat())
        for entry in os.scandir(here)
        if entry.name.endswith(".py")
    )
    stamp = hashlib.sha256(
        repr([(name, st.st_size, st.st_mtime_ns) for name, st in sources]).encode()
    ).hexdigest()
    memo = here / "__pycache__" / f"symgrad-fingerprint.{sys.implementation.cache_tag}"
    try:
        kept = memo.read_text("ascii").split()
    except (OSError, ValueError):
        kept = []
    if len(kept) == 2 and kept[0] == stamp:
        return kept[1]
    digest = hashlib.sha256()
    for name, _ in sources:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    _write(memo, f"{stamp} {digest.hexdigest()}\n".encode("ascii"))
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _toolchain() -> tuple[str, ...]:
    """Versions of Python and of the libraries that shape emitted code, read
    from the names of their installed `.dist-info` directories (parsing the
    metadata takes milliseconds), so that a cache hit never imports sympy or
    black."""
    versions = [f"python {sys.version_info[0]}.{sys.version_info[1]}"]
    for name in ("numpy", "sympy", "black"):
        versions.append(f"{name} {_installed_version(name)}")
    return tuple(versions)


@functools.lru_cache(maxsize=8)
def _listing(directory: str) -> tuple[str, ...]:
    """The names in `directory` (site-packages: read once, not once a name);
    none where it cannot be read (the version then comes from the metadata)."""
    try:
        return tuple(sorted(os.listdir(directory)))
    except OSError:
        return ()


def _installed_version(name: str) -> str:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is not None and spec.origin is not None:
        site = os.path.dirname(os.path.dirname(os.path.realpath(spec.origin)))
        found = [
            entry
            for entry in _listing(site)
            if entry.startswith(f"{name}-") and entry.endswith(".dist-info")
        ]
        if found:
            return found[-1][len(name) + 1 : -len(".dist-info")]
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return getattr(importlib.import_module(name), "__version__", "?")


# --- reading and writing ---------------------------------------------------


def load(path: Path, key: str) -> str | None:
    """The module text stored at `path` under `key`, or None if missing/invalid."""
    try:
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    return _parse(data, key)


def _parse(data: bytes, key: str) -> str | None:
    parts = data.split(b"\n", HEADER_LINES)
    if len(parts) != HEADER_LINES + 1:
        return None
    key_line, sum_line, payload = parts
    if key_line != (KEY_PREFIX + key).encode("ascii"):
        return None
    if sum_line != (SUM_PREFIX + hashlib.sha256(payload).hexdigest()).encode():
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def store(path: Path, key: str, text: str) -> bool:
    """Atomically write an entry; False (never an exception) if it cannot."""
    payload = text.encode("utf-8")
    header = f"{KEY_PREFIX}{key}\n{SUM_PREFIX}{hashlib.sha256(payload).hexdigest()}\n"
    return _write(path, header.encode("ascii") + payload)


def code_path(path: Path) -> Path:
    """The code file beside the entry at `path`."""
    return path.with_name(path.name[: -len(SUFFIX)] + CODE_SUFFIX)


def _origin(text: str, filename: str) -> bytes:
    """What a code object depends on: its text and file name, and the
    interpreter that compiled it (bytecode format, implementation, -O level,
    which drops docstrings at -OO)."""
    made_by = (
        f"{importlib.util.MAGIC_NUMBER.hex()} {sys.implementation.cache_tag} "
        f"{sys.flags.optimize}"
    )
    return (
        hashlib.sha256(f"{made_by}\0{filename}\0{text}".encode()).hexdigest().encode()
    )


def load_code(path: Path, text: str, filename: str) -> types.CodeType | None:
    """The code object compiled from `text` as `filename`, stored beside the
    entry at `path`; None if missing, for another text, or damaged."""
    try:
        data = code_path(path).read_bytes()
    except (OSError, ValueError):
        return None
    parts = data.split(b"\n", 3)
    if len(parts) != 4 or parts[:2] != [CODE_FORMAT, _origin(text, filename)]:
        return None
    if parts[2] != hashlib.sha256(parts[3]).hexdigest().encode():
        return None
    try:
        code = marshal.loads(parts[3])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def store_code(path: Path, text: str, filename: str, code: types.CodeType) -> bool:
    """Atomically write the code file beside the entry at `path`."""
    payload = marshal.dumps(code)
    digest = hashlib.sha256(payload).hexdigest().encode()
    header = b"\n".join([CODE_FORMAT, _origin(text, filename), digest, b""])
    return _write(code_path(path), header + payload)


def _write(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temporary file and `os.replace`."""
    temp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
        return True
    except (OSError, ValueError):
        try:
            os.unlink(temp)
        except OSError:
            pass
        return False


@dataclass(frozen=True)
class Entry:
    """Where one function's module is cached, and under which key."""

    path: Path
    key: str


def entry_for(
    src: FunctionSource, wrt: tuple[str, ...], wrt_is_tuple: bool, version: str
) -> Entry | None:
    """The entry for `src`, or None when the cache is off or the key unknowable."""
    directory = cache_dir(src.file)
    if directory is None:
        return None
    try:
        key = compute_key(src, wrt, wrt_is_tuple, version)
    except Exception:  # a name whose source cannot be read: compile in memory
        return None
    return Entry(entry_path(directory, src.name, key), key)


def cached_source(
    src: FunctionSource,
    wrt: tuple[str, ...],
    wrt_is_tuple: bool,
    version: str,
    build: Callable[[], str],
) -> tuple[str, Path | None]:
    """The emitted module for `src`: from the cache, else `build()` and store
    it; with the entry's path (None when the cache is off), for `compiled`.

    `build` runs only on a miss; its exceptions (compile errors) propagate and
    nothing is stored."""
    entry = entry_for(src, wrt, wrt_is_tuple, version)
    if entry is not None:
        text = load(entry.path, entry.key)
        if text is not None:
            return text, entry.path
    text = build()
    if entry is not None and store(entry.path, entry.key, text):
        return text, entry.path
    return text, None


def compiled(
    text: str, filename: str, path: Path | None, first_line: int = 1
) -> types.CodeType:
    """`compile(text, filename, "exec")`, its first line numbered
    `first_line`, read from beside the entry at `path` when it was stored
    there before (else compiled and stored)."""
    code = load_code(path, text, filename) if path is not None else None
    if code is None:
        code = compile("\n" * (first_line - 1) + text, filename, "exec")
        if path is not None:
            store_code(path, text, filename, code)
    return code


# --- the command line's view -----------------------------------------------


def directory_for_cli(given: str | None) -> Path:
    """The directory `cache info/clear` look at.

    `given` may be a cache directory or a source directory whose
    ``__pycache__/symgrad/`` is meant; without it, ``$SYMGRAD_CACHE_DIR``, else
    ``__pycache__/symgrad/`` under the current directory."""
    if given is None:
        override = os.environ.get(DIR_ENV)
        return Path(override) if override else Path.cwd() / DEFAULT_SUBDIR
    path = Path(given)
    return path / DEFAULT_SUBDIR if (path / DEFAULT_SUBDIR).is_dir() else path


def entries(directory: Path, code: bool = False) -> list[Path]:
    """Cache entries in `directory` (not recursive), sorted by name; with
    `code`, the code files instead (one may outlive its entry)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    pattern = _CODE if code else _ENTRY
    return sorted(directory / n for n in names if pattern.match(n))


def clear(directory: Path) -> tuple[int, int]:
    """Remove the entries (and stray temporary files) in `directory`.

    Returns (files removed, bytes freed); other files are left alone."""
    try:
        names = os.listdir(directory)
    except OSError:
        return 0, 0
    removed = freed = 0
    for name in sorted(names):
        if not (_ENTRY.match(name) or _CODE.match(name) or _TEMP.match(name)):
            continue
        path = directory / name
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            continue
        removed += 1
        freed += size
    return removed, freed
