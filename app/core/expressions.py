"""The restricted expression language of tenant models: BPMN conditions, scripts, DMN entries.

SpiffWorkflow's default script engine runs model text with Python's eval/exec, which would let
a tenant's model run any code in the worker. Model text is evaluated here instead: it is
tokenized, parsed with `ast` (never compiled or run) and walked by our own evaluator, which
knows only the constructs below. Every name, number and built value is bounded.

Plain language (a whole `${...}` or `#{...}` is JUEL, translated to it first):
- literals: decimal numbers, 'text' or "text" (a backslash escapes the next character;
  `\\n`, `\\t`, `\\r` are the usual ones), True/False/None (also true/false/null), lists,
  tuples and maps `{'k': v}`;
- variables by name (an unknown one is an error); `a.b` is the key 'b' of the map `a` (None
  when missing, as in JUEL; a key that is a Python keyword needs `a['from']`, which is an
  error when missing); `a['b']`, `a[0]`, `a[1:3]` on maps, lists and strings;
- `+ - * / // % **` on numbers, `+` and `*` on strings and lists, unary `- +`, comparisons
  `== != < <= > >= in not in is is not` (chained as in Python; `is` is meant for None),
  `and or not`, `a if c else b`;
- calls, by name only, of: len abs min max round int float str bool lower upper contains
  startswith endswith, and empty(x).
Not supported: method calls (`x.lower()`: write `lower(x)`), keyword arguments, `*`/`**`
unpacking, lambda, comprehensions, f-strings and prefixed strings, `:=`, sets, bitwise
operators, hex/octal/underscored/complex numbers, names and keys after `.` starting with `_`.
Parts that use no variable are evaluated when checked, so `x if c else 1/0` is refused at
deploy time. Each operator of a chain `a + b + ...` counts as one level of MAX_DEPTH.

JUEL: `&&` `||` `!` and the words eq ne lt gt le ge div mod become Python's operators; `empty x`
is true for None, '', an empty list or map, an unknown variable or a missing key; `c ? a : b`
becomes `a if c else b`. Not supported: text templates (`Hello ${name}`), method calls
(`${execution.getVariable('x')}`), `instanceof`, function namespaces (`fn:x()`), lambdas and
the EL 3.0 operators; no type coercion (`'1' + 1` fails, `'1' == 1` is false); `not` keeps
Python's precedence (`not a == b` is `not (a == b)`), while `!` and `empty` bind tightly.

A script is lines `name = expression` (or `name += expression` and the other arithmetic forms),
separated by new lines or `;`, with `#` comments. DMN entries: see `matches_unary_tests`.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, NamedTuple

MAX_EXPRESSION_LENGTH: Final = 4_000  # characters of an expression or DMN entry
MAX_SCRIPT_LENGTH: Final = 40_000  # characters of a script
MAX_SCRIPT_STATEMENTS: Final = 200
MAX_NODES: Final = 500  # parts (AST expression nodes) of an expression or script statement
MAX_DEPTH: Final = 100  # nesting of brackets, of the parsed expression and of built values
MAX_VALUE_SIZE: Final = 100_000  # characters plus items (counted through nesting) of a result
MAX_INT_DIGITS: Final = 100  # whole numbers stay below 10**100
MAX_EXPONENT: Final = 64  # |b| in a ** b

_INT_LIMIT: Final = 10**MAX_INT_DIGITS
_ONLY_WHOLE: Final = "only a whole ${...} expression is supported"


class ExpressionError(ValueError):
    """A model's expression is not in the supported language, or failed when evaluated.
    str(exc) is a short human message fit for an API problem body (no Python internals)."""


class _Missing(ExpressionError):
    """An unknown variable or a missing key: `empty` of it is true."""


# ---------------------------------------------------------------- tokens and JUEL translation


class _Token(NamedTuple):
    kind: str  # name, attr (a name after '.'), number, string, op, nl
    text: str  # the Python text it stands for
    line: int
    start: int


_TOKEN: Final = re.compile(
    r"""(?P<space>[ \t\r\f]+|\\\n)|(?P<nl>\n)|(?P<comment>\#[^\n]*)
    |(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<name>[^\W\d]\w*)
    |(?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    |(?P<op>\*\*=?|//=?|[-+*/%]=|==|!=|<=|>=|&&|\|\||:=|\.\.|[-+*/%<>=!()\[\]{},.?:;])""",
    re.VERBOSE,
)
_OPENERS: Final = {"(": ")", "[": "]", "{": "}"}
_CLOSERS: Final = {")": "(", "]": "[", "}": "{"}
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r"}
_STRING_PREFIXES: Final = {"f", "b", "r", "u", "rb", "br", "fr", "rf"}
_WORDS: Final = {
    "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%",
    "true": "True", "false": "False", "null": "None", "&&": "and", "||": "or",
}  # fmt: skip


def _tokenize(
    source: str, position: int = 0, *, wrapped: bool = False, script: bool = False
) -> tuple[list[_Token], int]:
    """Tokens of `source` from `position`; with `wrapped`, up to the `}` closing `${`."""
    tokens: list[_Token] = []
    stack: list[_Token] = []
    line = 1
    while position < len(source):
        where = f"line {line}: " if script else ""
        found = _TOKEN.match(source, position)
        if found is None:
            char = source[position]
            problem = "unterminated string" if char in "'\"" else f"unexpected character {char!r}"
            raise ExpressionError(where + problem)
        kind, text, position = found.lastgroup or "", found.group(), found.end()
        if kind in ("space", "comment", "nl"):
            line += text.count("\n")
            if kind == "nl" and not stack:
                tokens.append(_Token("nl", "\n", line - 1, found.start()))
            continue
        if kind == "string":
            body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), text[1:-1])
            text = repr(body)
        elif kind == "name" and text.lower() in _STRING_PREFIXES:
            if source.startswith(("'", '"'), position):
                raise ExpressionError(where + "f-strings and prefixed strings are not supported")
        elif text in _OPENERS:
            stack.append(_Token(kind, text, line, found.start()))
            if len(stack) > MAX_DEPTH:
                raise ExpressionError(where + f"nested too deeply (more than {MAX_DEPTH} levels)")
        elif text in _CLOSERS:
            if not stack and wrapped and text == "}":
                return tokens, position
            if not stack or stack.pop().text != _CLOSERS[text]:
                raise ExpressionError(where + f"unmatched {text!r}")
        tokens.append(_Token(kind, text, line, found.start()))
    if stack:
        opener = stack[-1]
        raise ExpressionError(
            (f"line {opener.line}: " if script else "") + f"unclosed {opener.text!r}"
        )
    if wrapped:
        raise ExpressionError("missing '}' at the end of the ${...} expression")
    return tokens, position


def _match(tokens: list[_Token], i: int) -> int:
    """Index of the bracket closing the one at `i`."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].kind == "op" and tokens[j].text in _OPENERS:
            depth += 1
        elif tokens[j].kind == "op" and tokens[j].text in _CLOSERS:
            depth -= 1
            if depth == 0:
                return j
    raise ExpressionError("unbalanced brackets")


def _operand_end(tokens: list[_Token], i: int, word: str) -> int:
    """End of the operand of a JUEL prefix operator (`!`, `empty`): a value and its suffixes."""
    if i < len(tokens) and tokens[i].text in ("!", "-", "+", "empty"):
        return _operand_end(tokens, i + 1, word)
    if i < len(tokens) and tokens[i].kind == "op" and tokens[i].text in _OPENERS:
        j = _match(tokens, i) + 1
    elif i < len(tokens) and tokens[i].kind in ("name", "number", "string"):
        j = i + 1
    else:
        raise ExpressionError(f"'{word}' needs a value after it")
    while j < len(tokens):
        if tokens[j].text == "." and j + 1 < len(tokens) and tokens[j + 1].kind == "attr":
            j += 2
        elif tokens[j].text in ("[", "("):
            j = _match(tokens, j) + 1
        else:
            break
    return j


def _prefix(tokens: list[_Token]) -> list[_Token]:
    """JUEL's tight prefix operators: `empty x` -> `empty(x)`, `!x` -> `(not x)`."""
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        word = "empty" if (tok.kind, tok.text) == ("name", "empty") else ""
        word = "!" if (tok.kind, tok.text) == ("op", "!") else word
        if not word:
            out.append(tok)
            i += 1
            continue
        end = _operand_end(tokens, i + 1, word)
        if word == "empty":
            out += [tok, tok._replace(kind="op", text="(")]
        else:
            out += [tok._replace(kind="op", text="("), tok._replace(kind="name", text="not")]
        out += [*_prefix(tokens[i + 1 : end]), tok._replace(kind="op", text=")")]
        i = end
    return out


def _top_level(tokens: list[_Token]) -> Iterator[tuple[int, str]]:
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.kind == "op" and tok.text in _OPENERS:
            depth += 1
        elif tok.kind == "op" and tok.text in _CLOSERS:
            depth -= 1
        elif tok.kind == "op" and depth == 0:
            yield i, tok.text


def _ternary(tokens: list[_Token]) -> list[str]:
    """JUEL's `c ? a : b` -> `(a) if (c) else (b)` in each comma-separated part."""
    out: list[str] = []
    start = 0
    for i, text in _top_level(tokens):
        if text == ",":
            out += [*_ternary_one(tokens[start:i]), ","]
            start = i + 1
    return out + _ternary_one(tokens[start:])


def _ternary_one(tokens: list[_Token]) -> list[str]:
    marks = [(i, text) for i, text in _top_level(tokens) if text in ("?", ":")]
    if marks and marks[0][1] == ":":  # a map entry `k: v` or a slice: split there
        i = marks[0][0]
        return [*_ternary_one(tokens[:i]), ":", *_ternary_one(tokens[i + 1 :])]
    if marks:
        pending = 0
        for colon, text in marks:
            pending += 1 if text == "?" else -1
            if pending == 0:
                q = marks[0][0]
                cond, then, other = tokens[:q], tokens[q + 1 : colon], tokens[colon + 1 :]
                return [
                    "(", *_ternary_one(then), ")", "if", "(", *_ternary_one(cond), ")",
                    "else", "(", *_ternary_one(other), ")",
                ]  # fmt: skip
        raise ExpressionError("'?' without its ':'")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "op" and tokens[i].text in _OPENERS:
            j = _match(tokens, i)
            out += [tokens[i].text, *_ternary(tokens[i + 1 : j]), tokens[j].text]
            i = j + 1
        else:
            out.append(tokens[i].text)
            i += 1
    return out


def _translate(tokens: list[_Token]) -> str:
    words: list[_Token] = []
    for tok in tokens:
        if tok.kind == "name" and words and words[-1].text == ".":
            tok = tok._replace(kind="attr")
        elif tok.kind == "name" and tok.text == "instanceof":
            raise ExpressionError("'instanceof' is not supported")
        elif tok.kind in ("name", "op") and tok.text in _WORDS:
            tok = tok._replace(text=_WORDS[tok.text])
        words.append(tok)
    return " ".join(_ternary(_prefix(words)))


# ---------------------------------------------------------------- parsing and checking

_BINARY: Final[dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod), ast.Pow: ("**", operator.pow),
}  # fmt: skip
_COMPARE_SYMBOLS: Final[dict[type[ast.cmpop], str]] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b, "is": operator.is_, "is not": operator.is_not,
}  # fmt: skip
_ALLOWED: Final = (
    ast.Constant, ast.Name, ast.Load, ast.List, ast.Tuple, ast.Dict, ast.BoolOp, ast.And,
    ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Compare, ast.IfExp,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Call, *_BINARY, *_COMPARE_SYMBOLS,
)  # fmt: skip
_REFUSED: Final[dict[type[ast.AST], str]] = {
    ast.Lambda: "lambda", ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings", ast.NamedExpr: "':=' assignments", ast.Set: "set literals",
    ast.Starred: "'*' unpacking", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}  # fmt: skip


def _check_node(node: ast.AST) -> None:
    match node:
        case ast.Constant(value=value):
            if type(value) not in (int, float, str, bool, type(None)):
                raise ExpressionError("unsupported literal")
            _checked(value)
        case ast.Name(id=name) | ast.Attribute(attr=name) if name.startswith("_"):
            raise ExpressionError(f"names starting with '_' are not allowed ({name!r})")
        case ast.Call(func=ast.Attribute(attr=attr)):
            raise ExpressionError(f"method calls such as '.{attr}()' are not supported")
        case ast.Call(func=ast.Name(id=name), args=args, keywords=keywords):
            if name not in _FUNCTIONS and name != "empty":
                raise ExpressionError(f"unknown function {name!r}")
            if keywords:
                raise ExpressionError("keyword arguments are not supported")
            if name == "empty" and len(args) != 1:
                raise ExpressionError("empty() takes one value")
        case ast.Call():
            raise ExpressionError("only the listed functions can be called, by name")
        case ast.Dict(keys=keys) if None in keys:
            raise ExpressionError("'**' unpacking is not supported")
        case _ if not isinstance(node, _ALLOWED):
            what = _REFUSED.get(type(node), f"'{type(node).__name__}'")
            raise ExpressionError(f"{what} not supported")


def _check_tree(root: ast.expr) -> None:
    count = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += isinstance(node, ast.expr)
        if count > MAX_NODES:
            raise ExpressionError(f"expression too large (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested too deeply (more than {MAX_DEPTH} levels)")
        _check_node(node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    # Evaluate now the parts that use no variable, so `'a' * 10**9` is refused at deploy time.
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Slice) or any(isinstance(n, ast.Name) for n in ast.walk(node)):
            todo.extend(
                child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)
            )
        else:
            _evaluate(node, _Env())


def _parse(tokens: list[_Token]) -> ast.expr:
    """The checked tree of an expression's tokens."""
    tokens = [tok for tok in tokens if tok.kind != "nl"]
    if not tokens:
        raise ExpressionError("empty expression")
    try:
        text = _translate(tokens)
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"invalid expression: {exc.msg}") from None
        _check_tree(tree.body)
    except (RecursionError, MemoryError):
        raise ExpressionError("expression too complex") from None
    return tree.body


@lru_cache(maxsize=4096)
def _compile(source: str) -> ast.expr:
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    text = source.strip()
    if text[:2] in ("${", "#{"):
        tokens, end = _tokenize(text, 2, wrapped=True)
        if text[end:].strip():
            raise ExpressionError(_ONLY_WHOLE)
    elif "${" in text or "#{" in text:
        raise ExpressionError(_ONLY_WHOLE)
    else:
        tokens, _ = _tokenize(text)
    return _parse(tokens)


_ASSIGNMENTS: Final = {"=", "+=", "-=", "*=", "/=", "//=", "%=", "**="}


@lru_cache(maxsize=1024)
def _compile_script(source: str) -> tuple[tuple[int, str, ast.expr], ...]:
    if len(source) > MAX_SCRIPT_LENGTH:
        raise ExpressionError(f"script longer than {MAX_SCRIPT_LENGTH} characters")
    statements: list[list[_Token]] = [[]]
    for tok in _tokenize(source, script=True)[0]:
        if tok.kind == "nl" or tok.text == ";":
            statements.append([])
        else:
            statements[-1].append(tok)
    program: list[tuple[int, str, ast.expr]] = []
    for statement in filter(None, statements):
        line = statement[0].line
        if len(program) == MAX_SCRIPT_STATEMENTS:
            raise ExpressionError(f"more than {MAX_SCRIPT_STATEMENTS} statements")
        target, expression = statement[0], statement[2:]
        name = unicodedata.normalize("NFKC", target.text)
        op = statement[1].text if expression else ""
        if (
            target.kind != "name"
            or keyword.iskeyword(name)
            or name in _WORDS
            or op not in _ASSIGNMENTS
        ):
            text = source[target.start :].split("\n", 1)[0][:40]
            raise ExpressionError(f"line {line}: only 'name = expression' is allowed, not {text!r}")
        if name.startswith("_"):
            raise ExpressionError(f"line {line}: names starting with '_' are not allowed")
        if op != "=":  # `a += b` is `a = a + (b)`
            paren = statement[1]._replace(kind="op", text="(")
            operator_ = statement[1]._replace(text=op[:-1])
            expression = [target, operator_, paren, *expression, paren._replace(text=")")]
        try:
            program.append((line, name, _parse(expression)))
        except ExpressionError as exc:
            raise ExpressionError(f"line {line}: {exc}") from None
    return tuple(program)


# ---------------------------------------------------------------- evaluation


_KINDS: Final[dict[type, str]] = {
    bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
    tuple: "a list", dict: "a map", type(None): "null",
}  # fmt: skip


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _limit(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise ExpressionError(f"result too large (more than {MAX_VALUE_SIZE} characters or items)")


def _checked(value: Any) -> Any:
    """`value` if it is within bounds (whole numbers, finite floats, string length)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
        raise ExpressionError(f"number too large (at most {MAX_INT_DIGITS} digits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("number too large")
    if isinstance(value, complex):
        raise ExpressionError("result is not a real number")
    if isinstance(value, str):
        _limit(len(value))
    return value


class _Env:
    """The variables of one evaluation, and the sizes of the values it has measured."""

    def __init__(self, *layers: Mapping[str, Any]) -> None:
        self.layers = layers
        self.measured: dict[int, tuple[Any, int, int]] = {}

    def lookup(self, name: str) -> Any:
        for layer in self.layers:
            if name in layer:
                return layer[name]
        raise _Missing(f"unknown variable {name!r}")

    def measure(self, value: Any, level: int = 0) -> tuple[int, int]:
        """(size, height): characters plus items through nesting; shared parts once each."""
        if isinstance(value, str):
            return len(value), 0
        if not isinstance(value, (list, tuple, dict)):
            return 0, 0
        known = self.measured.get(id(value))
        if known is not None:
            return known[1], known[2]
        if level > MAX_DEPTH:
            raise ExpressionError(f"value nested too deeply (more than {MAX_DEPTH} levels)")
        size, height = len(value), 0
        for item in [*value.keys(), *value.values()] if isinstance(value, dict) else value:
            item_size, item_height = self.measure(item, level + 1)
            size, height = size + item_size, max(height, item_height + 1)
            if size > MAX_VALUE_SIZE:
                break
        self.measured[id(value)] = (value, size, height)
        return size, height

    def built(self, value: Any) -> Any:
        size, height = self.measure(value)
        _limit(size)
        if height > MAX_DEPTH:
            raise ExpressionError(f"value nested too deeply (more than {MAX_DEPTH} levels)")
        return value

    def binary(self, op: ast.operator, a: Any, b: Any) -> Any:
        symbol, function = _BINARY[type(op)]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if symbol in ("*", "**"):  # bounded operands: the product is computed quickly
                _checked(a)
                _checked(b)
            if symbol == "**" and abs(b) > MAX_EXPONENT:
                raise ExpressionError(f"exponent too large (at most {MAX_EXPONENT})")
            if (
                symbol == "**"
                and isinstance(a, int)
                and abs(a) > 1
                and b * math.log10(abs(a)) >= MAX_INT_DIGITS
            ):
                raise ExpressionError(f"number too large (at most {MAX_INT_DIGITS} digits)")
            return _checked(function(a, b))
        sequences = (str, list, tuple)
        if symbol == "+" and isinstance(a, sequences) and type(a) is type(b):
            _limit(self.measure(a)[0] + self.measure(b)[0])
            return self.built(function(a, b))
        if symbol == "*" and isinstance(b, sequences) and isinstance(a, int):
            a, b = b, a
        if symbol == "*" and isinstance(a, sequences) and isinstance(b, int):
            _limit(self.measure(a)[0] * b)
            return self.built(a * b)
        raise ExpressionError(f"'{symbol}' is not supported between {_kind(a)} and {_kind(b)}")


def _compare(symbol: str, a: Any, b: Any) -> bool:
    if symbol in ("in", "not in") and not isinstance(b, (str, list, tuple, dict)):
        raise ExpressionError(f"'{symbol}' needs a string, list or map, not {_kind(b)}")
    try:
        return bool(_COMPARE[symbol](a, b))
    except TypeError:
        raise ExpressionError(f"cannot compare {_kind(a)} with {_kind(b)} ({symbol})") from None


def _subscript(target: Any, index: ast.expr, env: _Env) -> Any:
    if isinstance(index, ast.Slice):
        if not isinstance(target, (str, list, tuple)):
            raise ExpressionError(f"cannot slice {_kind(target)}")
        bounds = [
            None if p is None else _eval(p, env) for p in (index.lower, index.upper, index.step)
        ]
        if not all(bound is None or isinstance(bound, int) for bound in bounds):
            raise ExpressionError("slice bounds must be whole numbers")
        return target[slice(*bounds)]
    key = _eval(index, env)
    if isinstance(target, dict):
        if key not in target:
            raise _Missing(f"no key {repr(key)[:40]}")
        return target[key]
    if not isinstance(target, (str, list, tuple)):
        raise ExpressionError(f"cannot index {_kind(target)}")
    if not isinstance(key, int):
        raise ExpressionError(f"an index must be a whole number, not {_kind(key)}")
    if not -len(target) <= key < len(target):
        raise ExpressionError(f"index {key} out of range")
    return target[key]


def _eval(node: ast.expr, env: _Env) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return env.lookup(name)
        case ast.List(elts=elts):
            return env.built([_eval(e, env) for e in elts])
        case ast.Tuple(elts=elts):
            return env.built(tuple(_eval(e, env) for e in elts))
        case ast.Dict(keys=keys, values=values):
            pairs = zip(keys, values, strict=True)
            return env.built({_eval(k, env): _eval(v, env) for k, v in pairs if k is not None})
        case ast.BoolOp(op=op, values=values):
            for operand in values[:-1]:
                result = _eval(operand, env)
                if bool(result) == isinstance(op, ast.Or):
                    return result
            return _eval(values[-1], env)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, env)
        case ast.UnaryOp(op=op, operand=operand):
            value = _eval(operand, env)
            if not isinstance(value, (int, float)):
                raise ExpressionError(f"a sign needs a number, not {_kind(value)}")
            return -value if isinstance(op, ast.USub) else +value
        case ast.BinOp(left=left, op=op, right=right):
            return env.binary(op, _eval(left, env), _eval(right, env))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            a = _eval(left, env)
            for cmp, comparator in zip(ops, comparators, strict=True):
                b = _eval(comparator, env)
                if not _compare(_COMPARE_SYMBOLS[type(cmp)], a, b):
                    return False
                a = b
            return True
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return _eval(body if _eval(test, env) else orelse, env)
        case ast.Attribute(value=value, attr=attr):
            target = _eval(value, env)
            if not isinstance(target, dict):
                raise ExpressionError(f"'.{attr}' needs a map (JSON object), not {_kind(target)}")
            return target.get(attr)
        case ast.Subscript(value=value, slice=index):
            return _subscript(_eval(value, env), index, env)
        case ast.Call(func=ast.Name(id="empty"), args=[arg]):
            try:
                value = _eval(arg, env)
            except _Missing:
                return True
            return value is None or (isinstance(value, (str, list, tuple, dict)) and not value)
        case ast.Call(func=ast.Name(id=name), args=args):
            values = [_eval(arg, env) for arg in args]
            try:
                return _checked(_FUNCTIONS[name](*values))
            except ExpressionError:
                raise
            except (TypeError, ValueError, OverflowError):
                raise ExpressionError(f"invalid arguments for {name}()") from None
    raise ExpressionError("unsupported expression")


def _evaluate(node: ast.expr, env: _Env) -> Any:
    """`_eval`, with every failure turned into an ExpressionError."""
    try:
        return _eval(node, env)
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError("value nested too deeply") from None
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except (OverflowError, MemoryError):
        raise ExpressionError("number or value too large") from None
    except Exception as exc:
        raise ExpressionError(f"evaluation failed: {str(exc)[:100]}") from None


def _need(value: Any, kinds: type | tuple[type, ...], function: str) -> Any:
    if not isinstance(value, kinds):
        raise ExpressionError(f"{function}() cannot take {_kind(value)}")
    return value


def _round(value: Any, digits: Any = None) -> Any:
    if digits is not None and not (isinstance(digits, int) and abs(digits) <= MAX_INT_DIGITS):
        raise ExpressionError(f"round() takes at most {MAX_INT_DIGITS} digits")
    return round(_need(value, (int, float), "round"), digits)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _need(item, str, "contains") in container
    return item in _need(container, (list, tuple, dict), "contains")


_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "len": lambda v: len(_need(v, (str, list, tuple, dict), "len")),
    "abs": lambda v: abs(_need(v, (int, float), "abs")),
    "min": min, "max": max, "round": _round, "int": int, "float": float, "bool": bool,
    "str": lambda v: str(_need(v, (str, int, float, type(None)), "str")),
    "lower": lambda v: _need(v, str, "lower").lower(),
    "upper": lambda v: _need(v, str, "upper").upper(),
    "contains": _contains,
    "startswith": lambda v, p: _need(v, str, "startswith").startswith(_need(p, str, "startswith")),
    "endswith": lambda v, p: _need(v, str, "endswith").endswith(_need(p, str, "endswith")),
}  # fmt: skip


# ---------------------------------------------------------------- public API


def check_expression(source: str) -> None:
    """Raise ExpressionError if `source` (JUEL `${...}`/`#{...}` or the plain language) is not
    valid in the restricted language. Used at deploy time."""
    _compile(source)


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate an expression against process variables. Raises ExpressionError on any failure
    (unknown variable -> ExpressionError naming it; type errors; limits)."""
    return _evaluate(_compile(source), _Env(variables))


def check_script(source: str) -> None:
    """Raise ExpressionError if `source` is not a valid script (see `run_script`)."""
    _compile_script(source)


def run_script(source: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Run a script: assignments `name = expression`, one per line or separated by ';' (blank
    lines and `#` comments allowed); later lines see earlier assignments. Returns only the
    assigned names and their values; `variables` is not changed. Anything else is an
    ExpressionError naming the line."""
    assigned: dict[str, Any] = {}
    env = _Env(assigned, variables)
    for line, name, node in _compile_script(source):
        try:
            assigned[name] = _evaluate(node, env)
        except ExpressionError as exc:
            raise ExpressionError(f"line {line}: {exc}") from None
    return assigned


@dataclass(frozen=True, slots=True)
class _Test:
    kind: str  # eq (input == value), cmp (input <op> value), range, bool (must be true)
    value: ast.expr
    high: ast.expr | None = None
    op: str = ""
    low_closed: bool = True
    high_closed: bool = True


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """The characters of `text` outside quoted strings, with their index."""
    quote, escaped = "", False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif quote:
            escaped, quote = char == "\\", "" if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            yield i, char


def _split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside quotes and parentheses."""
    parts, start, depth = [], 0, 0
    for i, char in _unquoted(text):
        depth += (char in "({") - (char in ")}")
        if depth == 0 and i >= start and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
    return [*parts, text[start:]]


def _compile_test(item: str) -> _Test:
    if not item:
        raise ExpressionError("empty test in the list")
    for op in ("<=", ">=", "!=", "<", ">"):
        if item.startswith(op):
            return _Test("cmp", _compile(item[len(op) :]), op=op)
    if item[0] in "[](" and item[-1] in "[])" and len(ends := _split(item[1:-1], "..")) == 2:
        low, high = _compile(ends[0]), _compile(ends[1])
        return _Test("range", low, high, low_closed=item[0] == "[", high_closed=item[-1] == "]")
    node = _compile(item)
    negation = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    return _Test("bool" if negation or isinstance(node, (ast.Compare, ast.BoolOp)) else "eq", node)


@lru_cache(maxsize=4096)
def _compile_unary_tests(source: str) -> tuple[bool, tuple[_Test, ...]] | None:
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"entry longer than {MAX_EXPRESSION_LENGTH} characters")
    text, negated = source.strip(), False
    if text in ("", "-"):
        return None
    if (found := re.match(r"not\s*\(", text)) and text.endswith(")"):
        inner, depth = text[found.end() : -1], 0
        for _, char in _unquoted(inner):
            depth += (char == "(") - (char == ")")
            if depth < 0:
                break
        if depth == 0:
            text, negated = inner, True
    return negated, tuple(_compile_test(item.strip()) for item in _split(text, ","))


def check_unary_tests(source: str) -> None:
    """Raise ExpressionError if `source` is not a valid DMN input entry."""
    _compile_unary_tests(source)


def _order(op: str, a: Any, b: Any) -> bool:
    """A comparison in an entry: one with a null side does not match (FEEL)."""
    return a is not None and b is not None and _compare(op, a, b)


def _matches(test: _Test, value: Any, env: _Env) -> bool:
    bound = _evaluate(test.value, env)
    if test.kind == "eq":
        return bool(value == bound)
    if test.kind == "bool":
        return bool(bound)
    if test.kind == "cmp":
        return _compare("!=", value, bound) if test.op == "!=" else _order(test.op, value, bound)
    high = None if test.high is None else _evaluate(test.high, env)
    low_op, high_op = "<=" if test.low_closed else "<", "<=" if test.high_closed else "<"
    return _order(low_op, bound, value) and _order(high_op, value, high)


def matches_unary_tests(value: Any, source: str, variables: Mapping[str, Any]) -> bool:
    """DMN input entry (FEEL simple unary tests as Camunda users write them) against the input
    value: `-` or empty = any; a literal (`"gold"`, `'gold'`, `42`, `true`, `false`, `null`)
    or any other value expression (a variable, `a.b`, arithmetic) = equality; `< 10`, `<= 10`,
    `> 10`, `>= 10`, `!= "x"`; ranges `[1..10]`, `]1..10[`, `[1..10[`, `(1..10)` (`[`/`]` at
    their own end are closed, `]` `[` `(` `)` open); comma separated lists (any of them;
    commas inside quotes are text); `not(...)` of any of these; an entry that is a comparison
    or an and/or/not expression over the variables must be true. Endpoints may be literals,
    variables or any expression. Not supported: `?` (the input), FEEL functions, and list
    literals at the top of an entry. Null never matches `<`, `<=`, `>`, `>=` or a range."""
    compiled = _compile_unary_tests(source)
    if compiled is None:
        return True
    negated, tests = compiled
    env = _Env(variables)
    try:
        matched = any(_matches(test, value, env) for test in tests)
    except ExpressionError:
        raise
    except Exception as exc:  # e.g. a comparison of unusual values
        raise ExpressionError(f"evaluation failed: {str(exc)[:100]}") from None
    return matched != negated
