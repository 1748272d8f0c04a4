"""Style: emitted text in black's style, and black run only where it could
change something.

Guarantees:

* `clean(expr)` is `expr` with redundant parentheses dropped, spelled as black
  spells it (double quotes, `x**2` hugged for simple operands); its AST is
  `expr`'s;
* `formatted(text)` is exactly `black.format_str(text)` for every module
  symgrad emits (tests check this fixed point over the examples, the golden
  functions and the random programs).  It hands black only the statements
  black could change: lines over 88 columns, single-quoted strings, unhugged
  `**`, slices with bounds other than names and numbers.  The rest is black's
  style already, because the printer writes it so.  Text it cannot split into
  statements goes to black whole.  black costs about 0.2 ms per line; most
  emitted lines never reach it.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize


def clean(text: str) -> str:
    """`_clean(text)`, read from a cache of the expression's form with its
    names replaced by placeholders: emitted expressions repeat a few forms
    (`(y_198) * (a)`), and renaming names (not keywords, attributes after a
    dot, or letters inside numbers) changes nothing `_clean` does.  Text
    holding a string, whose letters are not names, or a dot before a space
    (`x. T`), is cleaned as it is."""
    if "'" in text or '"' in text or _SPACED_DOT.search(text):
        return _clean(text)  # (`x. T`: an attribute `_NAME` would take for a name)
    names: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        name = match[0]
        if name in _KEYWORDS:
            return name
        return names.setdefault(name, f"_{len(names)}")

    form = _NAME.sub(placeholder, text)
    cleaned = _FORMS.get(form)
    if cleaned is None:
        if len(_FORMS) > 4096:
            _FORMS.clear()
        cleaned = _FORMS[form] = _clean(form)
    if not names:
        return cleaned
    back = {v: k for k, v in names.items()}
    return _PLACEHOLDER.sub(lambda m: back[m[0]], cleaned)


# a name: a letter or underscore, then letters, digits and underscores, after
# no letter, digit, underscore or dot (not an attribute, not the `e` of `1e-3`)
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_PLACEHOLDER = re.compile(r"(?<![\w.])_\d+\b")
_SPACED_DOT = re.compile(r"\.\s")
_FORMS: dict[str, str] = {}


def _clean(text: str) -> str:
    """Drop redundant parentheses (parse and unparse the expression), in
    black's style where `ast.unparse` differs from it: double quotes, `x**2`
    for a power of simple operands, and `1e300` for `1e+300`.  Where the
    token rules might misread the expression, the plain unparse is returned
    (and `formatted` sends its line to black)."""
    tree = ast.parse(text, mode="eval")
    unparsed = text = ast.unparse(tree)
    if "\n" in text or not ("'" in text or "**" in text or "e+" in text):
        return text
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type not in _LAYOUT
    ]
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    parenthesized = False  # did an edit add parentheses (`-(x**2)`)?
    covered = 0  # (the end of the last power respelled whole: `x**1e16`)
    for i, tok in enumerate(tokens):
        if tok.start[1] < covered:
            continue
        if tok.type == tokenize.STRING and _plain_single_quoted(tok.string):
            edits.append((tok.start[1], tok.end[1], f'"{tok.string[1:-1]}"'))
        elif tok.type == tokenize.NUMBER and "e+" in tok.string:
            edits.append((tok.start[1], tok.end[1], number(tok.string)))
        elif tok.string == "**" and (power := _simple_power(tokens, i)):
            (j, k), negated = power
            left = number(text[tokens[j].start[1] : tok.start[1]].rstrip())
            right = number(text[tok.end[1] : tokens[k].end[1]].lstrip())
            hugged = f"({left}**{right})" if negated else f"{left}**{right}"
            parenthesized = parenthesized or negated
            start, covered = tokens[j].start[1], tokens[k].end[1]
            edits = [e for e in edits if e[0] < start]  # (a number in `left`)
            edits.append((start, covered, hugged))
    styled = unparsed
    for start, end, new in reversed(edits):
        styled = styled[:start] + new + styled[end:]
    # Respelling strings and numbers and removing the spaces around `**` keep
    # the tokens; added parentheses are checked to keep the tree.
    if parenthesized and ast.dump(ast.parse(styled, mode="eval")) != ast.dump(tree):
        return unparsed
    return styled


def number(text: str) -> str:
    """A number's literal as black spells it (`repr` writes `1e+300`)."""
    return text.replace("e+", "e")


_KEYWORDS = set(keyword.kwlist)
_LAYOUT = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT}


def _plain_single_quoted(string: str) -> bool:
    body = string[1:-1]
    return string[0] == "'" and '"' not in body and "\\" not in body


def _simple_power(tokens: list, i: int) -> tuple[tuple[int, int], bool] | None:
    """Where black hugs the `**` at `tokens[i]` (both operands a name, a
    dotted name or a number, the right one perhaps negated): the operands'
    first and last token, and whether a unary operator stands before it
    (black then adds parentheses: `-(x**2)`).  None elsewhere, and for a
    chain `x ** y ** z` after a unary operator, which this does not mimic."""
    j = _operand_start(tokens, i - 1)
    k = i + 1
    if k < len(tokens) and tokens[k].string == "-":
        k += 1
    k = _operand_end(tokens, k)
    if j is None or k is None:
        return None
    before = tokens[j - 1] if j > 0 else None
    if before is not None and before.string in (".", ")", "]"):
        return None  # the left operand is part of a call or subscript chain
    after = tokens[k + 1].string if k + 1 < len(tokens) else ""
    if after in ("(", "[", "."):
        return None
    negated = before is not None and before.string in ("-", "+", "~")
    if negated and j >= 2:
        prior = tokens[j - 2]
        unary = prior.type == tokenize.OP and prior.string not in (")", "]", "}")
        negated = unary or prior.string in _KEYWORDS
    if negated and after == "**":
        return None
    return (j, k), negated


def _operand_start(tokens: list, j: int) -> int | None:
    """First token of the name, dotted name or number ending at `tokens[j]`."""
    if tokens[j].type == tokenize.NUMBER:
        return j
    if tokens[j].type != tokenize.NAME or tokens[j].string in _KEYWORDS:
        return None
    while (
        j >= 2 and tokens[j - 1].string == "." and tokens[j - 2].type == tokenize.NAME
    ):
        j -= 2
    return j


def _operand_end(tokens: list, k: int) -> int | None:
    """Last token of the name, dotted name or number starting at `tokens[k]`."""
    if k >= len(tokens):
        return None
    if tokens[k].type == tokenize.NUMBER:
        return k
    if tokens[k].type != tokenize.NAME or tokens[k].string in _KEYWORDS:
        return None
    while (
        k + 2 < len(tokens)
        and tokens[k + 1].string == "."
        and tokens[k + 2].type == tokenize.NAME
    ):
        k += 2
    return k


_SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


# A line `_needs_black` could flag: too long, a quote, a space before `**`, a
# number (as `repr` writes them) black would respell, or a `[` before a `:`.
_CANDIDATE = re.compile(r".{89}|'|\s\*\*|\d[eE]\+|\d[EJLXOB]|0[xob]|\[.*:")
_BLACK_NUMBER = re.compile(r"\d[\d_]*(\.\d[\d_]*)?(e-?\d[\d_]*)?j?")
# (f-strings are one STRING token before Python 3.12, FSTRING_START... after)
_STRINGS = {tokenize.STRING, getattr(tokenize, "FSTRING_START", tokenize.STRING)}


def formatted(text: str) -> str:
    """`text` formatted by black, which runs only on the statements that need it."""
    lines = text.split("\n")
    if not any(_CANDIDATE.search(line) for line in lines):
        return text  # (nothing black could change: no need to tokenize)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return _black(text)
    statement: list[tokenize.TokenInfo] = []
    spans: list[tuple[int, int]] = []  # (first, last) line numbers, 1-based
    for tok in tokens:
        if tok.type in _SKIP:
            continue
        if tok.type != tokenize.NEWLINE:
            statement.append(tok)
            continue
        first, last = statement[0].start[0], tok.start[0]
        if _needs_black(statement, lines[first - 1 : last]):
            spans.append((first, last))
        statement = []
    out: list[str] = []
    done = 0
    for first, last in spans:
        out += lines[done : first - 1]
        piece = _statement(lines[first - 1 : last])
        if piece is None:
            return _black(text)
        out += piece
        done = last
    out += lines[done:]
    return "\n".join(out)


def appended_tuple(indent: str, stack: str, names: list[str]) -> list[str]:
    """`stack.append((a, b, ...))` of plain names, split as black splits it
    when it is too long: the tuple on a line of its own, or one name per line.
    (Saving many values per loop step made black a quarter of the compile
    time; a test compares these lines with black's on many lengths.)"""
    values = ", ".join(names)
    one = f"{indent}{stack}.append(({values}))"
    if len(one) <= WIDTH:
        return [one]
    inner = indent + "    "
    if len(f"{inner}({values})") <= WIDTH:
        return [f"{indent}{stack}.append(", f"{inner}({values})", f"{indent})"]
    names_lines = [f"{inner}    {name}," for name in names]
    return [
        f"{indent}{stack}.append(",
        f"{inner}(",
        *names_lines,
        f"{inner})",
        f"{indent})",
    ]


def reversed_loop(indent: str, names: list[str], stack: str) -> list[str]:
    """`for a, b, ... in reversed(stack):` as black splits it when it is too
    long: at `reversed(` when the rest fits, else one name per line."""
    targets = ", ".join(names)
    one = f"{indent}for {targets} in reversed({stack}):"
    if len(one) <= WIDTH:
        return [one]
    head = f"{indent}for {targets} in reversed("
    if len(head) <= WIDTH:
        return [head, f"{indent}    {stack}", f"{indent}):"]
    names_lines = [f"{indent}    {name}," for name in names]
    return [f"{indent}for (", *names_lines, f"{indent}) in reversed({stack}):"]


WIDTH = 88  # black's line length


def _needs_black(statement: list[tokenize.TokenInfo], lines: list[str]) -> bool:
    """Could black change this statement?  (True errs on the safe side.)"""
    if any(len(line) > 88 for line in lines):
        return True
    # per open bracket: [is a subscript, holds a ":", holds more than names,
    # numbers and unary minus] (black spaces such a slice: `g[3 * H :]`)
    brackets: list[list[bool]] = []
    previous = None
    for tok in statement:
        if tok.type in _STRINGS and not tok.string.lstrip("rRbBuUfF").startswith('"'):
            return True
        if tok.type == tokenize.NUMBER and not _BLACK_NUMBER.fullmatch(tok.string):
            return True
        if tok.string == "**" and tok.line[tok.start[1] - 1 : tok.start[1]] == " ":
            return True
        if tok.string in ("(", "[", "{"):
            if brackets:
                brackets[-1][2] = True
            brackets.append([tok.string == "[", False, False])
        elif tok.string in (")", "]", "}") and brackets:
            if all(brackets.pop()):
                return True
        elif brackets and tok.string == ":":
            brackets[-1][1] = True
        elif brackets and tok.type == tokenize.OP and tok.string != ",":
            unary = tok.string == "-" and (
                previous is None or previous.string in ("[", ",", ":")
            )
            brackets[-1][2] = brackets[-1][2] or not unary
        previous = tok
    return False


def _statement(lines: list[str]) -> list[str] | None:
    """One statement's lines as black formats them in place (a compound
    statement's header gets a stand-in body); None if black cannot parse it
    alone."""
    import black

    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    body = [line[len(indent) :] if line.startswith(indent) else line for line in lines]
    header = body[-1].rstrip().endswith(":")
    source = "\n".join(body) + ("\n    pass\n" if header else "\n")
    mode = _mode(max(88 - len(indent), 1))
    try:
        result = black.format_str(source, mode=mode).rstrip("\n").split("\n")
    except black.InvalidInput:
        return None
    if header:
        result = result[:-1]
    return [indent + line if line else line for line in result]


def _black(text: str) -> str:
    import black

    return black.format_str(text, mode=_mode(88))


def _mode(line_length: int):
    """black's mode for part of an emitted module: the Python versions black
    infers for the whole module (its support code has f-strings), so the part
    splits as it would in the module (`*, seed=None,` gets its comma)."""
    import black

    versions = {
        v for v in black.TargetVersion if v.value >= black.TargetVersion.PY36.value
    }
    return black.Mode(target_versions=versions, line_length=line_length)
