"""Arithmetic for the ``calculate`` tool: an expression parsed with :mod:`ast` and evaluated
over a whitelist (numbers, + - * / // % **, parentheses, a few math functions and constants).
No ``eval``; powers and factorials are bounded so a spoken "nine to the nine to the nine" cannot
hang the machine or fill its memory."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

from voicecli.errors import VoicecliError

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 1000
MAX_DIGITS = 1000
MAX_RESULT_DIGITS = 60

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "log": math.log, "log10": math.log10, "exp": math.exp,
    "min": min, "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_WORDS = {"×": "*", "÷": "/", "^": "**", "x": "*", "times": "*", "plus": "+", "minus": "-",
          "divided by": "/", "over": "/", "squared": "**2", "cubed": "**3", "percent of": "/100*"}


class CalcError(VoicecliError):
    """An expression that is not plain arithmetic, or whose value cannot be computed."""


def calculate(expression: str) -> str:
    """The value of ``expression`` as short text (integers without ``.0``; 10 significant digits)."""
    text = expression.strip()
    if not text:
        raise CalcError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    for word, symbol in _WORDS.items():
        text = text.replace(f" {word} ", f" {symbol} ") if word.isalpha() or " " in word else text.replace(word, symbol)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 (thousands), not f(a, b)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalcError(f"not an arithmetic expression: {expression[:60]!r}") from None
    try:
        value = _eval(tree.body)
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except (OverflowError, ValueError, TypeError) as exc:
        raise CalcError(f"cannot compute {expression[:60]!r}: {exc}") from None
    return format_number(value)


def format_number(value: float) -> str:
    if isinstance(value, bool):
        raise CalcError("not a number")
    if isinstance(value, int):
        digits = str(value)  # at most MAX_DIGITS
        sign, digits = ("-", digits[1:]) if value < 0 else ("", digits)
        if len(digits) <= MAX_RESULT_DIGITS:
            return sign + digits
        return f"{sign}{digits[0]}.{digits[1:10].rstrip('0') or '0'}e+{len(digits) - 1}"
    if math.isnan(value) or math.isinf(value):
        raise CalcError("the result is not a finite number")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _eval(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT
                                             or _digits(left) * max(abs(right), 1) > MAX_DIGITS):
            raise CalcError(f"number too large (at most {MAX_DIGITS} digits)")
        value = _BINARY[type(node.op)](left, right)
        if _digits(value) > MAX_DIGITS:
            raise CalcError(f"number too large (at most {MAX_DIGITS} digits)")
        return value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords and len(node.args) <= 4:
        return _FUNCTIONS[node.func.id](*(_eval(a) for a in node.args))
    raise CalcError(f"not allowed in arithmetic: {ast.unparse(node)[:40]!r}")


def _digits(value: float) -> float:
    """About how many decimal digits an integer has (floats are bounded by themselves)."""
    return value.bit_length() * 0.302 if isinstance(value, int) else 0.0
