"""Parse DecisionRules expressions into nodes.

Two sources: the cell string a user typed (``SUM({a},2)*3``, ``"text"``,
``[1,2]``, ``{"k": {v}}``) and the pre-parsed tree an export carries beside it
(``{"functionName": "TIMES_CHAR", "parameters": [...]}``), whose string leaves
are themselves small expressions (``"{data}"``, ``"\\"alias\\""``, ``"460"``).

Grammar of a cell string (no Python ``eval``; nesting bounded)::

    expr     := term [("+" | "-") expr]       (right-grouped, as DecisionRules does)
    term     := unary [("*" | "/") term]
    unary    := "-" unary | primary
    primary  := number | quoted | {ref} | "(" expr ")" | [array] | {object}
              | NAME "(" args ")" | true | false | null | bare text
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flowjobs.decisions.ast import ArrayNode, Call, Literal, Node, ObjectNode, Ref, Template
from flowjobs.decisions.problems import ExpressionError, ExpressionTooComplex, shown

MAX_PARSE_DEPTH = 100
MAX_EXPRESSION_LENGTH = 100_000

# characters that end bare (unquoted) text, as DecisionRules documents: *\/+-(),%{}
_SPECIAL = set("*/+-(),{}[]\"'")
_BINARY = {"+": "PLUS_CHAR", "-": "MINUS_CHAR", "*": "TIMES_CHAR", "/": "DIVIDED_CHAR"}
_WORD_SUFFIX = re.compile(r"[A-Za-z0-9_.]+")
_CALL_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*\(")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
RAW_FUNCTIONS = frozenset({"TEXT"})  # their argument is kept as written


def parse_expression(text: str) -> Node:
    """The node of a whole cell string; ExpressionError when it is not an expression."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionTooComplex("expression is too long")
    parser = _Parser(text)
    node = parser.expression()
    parser.skip_space()
    if not parser.at_end():
        raise ExpressionError(f"unexpected {text[parser.pos :][:20]!r} in {shown(text)}")
    return node


def parse_tree(value: Any, depth: int = 0, *, in_json: bool = False) -> Node:
    """The node of an exported pre-parsed value (function tree, JSON, or a leaf string).

    A function's parameters that are strings are small expressions (``"{data}"``,
    ``"\\"alias\\""``, ``"460"``); strings inside plain JSON (``in_json``) are text,
    since the export wraps references there in EVAL.
    """
    if depth > MAX_PARSE_DEPTH:
        raise ExpressionTooComplex("expression nests too deeply")
    if isinstance(value, Mapping):
        if "functionName" in value:
            params = value.get("parameters") or []
            if not isinstance(params, list):
                raise ExpressionError("function parameters must be an array")
            name = str(value["functionName"]).upper()
            return Call(name, tuple(parse_tree(p, depth + 1) for p in params))
        return ObjectNode(
            tuple(
                (Literal(str(k)), parse_tree(v, depth + 1, in_json=True)) for k, v in value.items()
            )
        )
    if isinstance(value, list):
        return ArrayNode(tuple(parse_tree(item, depth + 1, in_json=True) for item in value))
    if isinstance(value, str) and not in_json:
        return parse_leaf(value)
    return Literal(value)


def parse_leaf(text: str) -> Node:
    """A string leaf of a tree: an expression if it is one, else the text itself with its
    ``{variables}`` replaced (``{PromoDiscount}% discount``)."""
    try:
        return parse_expression(text)
    except ExpressionTooComplex:
        raise
    except ExpressionError:
        if _CALL_START.match(text):
            raise  # SUM(1, is a broken call, not text
        return parse_template(text)


def parse_ref(inner: str) -> Ref:
    """``a.b[0].c`` (the text between braces) as a reference."""
    text = inner.strip()
    path: list[str | int] = []
    for piece in text.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            path.append(name)
        for index in indexes:
            path.append(int(index) if index.strip().lstrip("-").isdigit() else index.strip())
    if not text or not path:
        raise ExpressionError("empty reference {}")
    return Ref(tuple(path), text)


def parse_template(text: str) -> Node:
    """Text with ``{ref}`` parts; a text without them is a Literal, a lone ``{ref}`` a Ref."""
    parts: list[str | Ref] = []
    pos = 0
    while True:
        start = text.find("{", pos)
        end = text.find("}", start + 1) if start >= 0 else -1
        if start < 0 or end < 0 or not _looks_like_name_ref(text[start + 1 : end]):
            if start >= 0 and end >= 0:
                parts.append(text[pos : start + 1])
                pos = start + 1
                continue
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        parts.append(parse_ref(text[start + 1 : end]))
        pos = end + 1
    merged = _merge_text(parts)
    if not any(isinstance(p, Ref) for p in merged):
        return Literal(text)
    if len(merged) == 1:
        return merged[0]  # type: ignore[return-value]
    return Template(tuple(merged))


def _merge_text(parts: list[str | Ref]) -> list[str | Ref]:
    merged: list[str | Ref] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def _looks_like_ref(inner: str) -> bool:
    stripped = inner.strip()
    return bool(stripped) and not any(ch in stripped for ch in "{\"':,")


def _looks_like_name_ref(inner: str) -> bool:
    """Inside quoted text only a name is a reference: "l{3}" stays a regex quantifier."""
    stripped = inner.strip()
    return _looks_like_ref(inner) and (stripped[0].isalpha() or stripped[0] == "_")


class _Parser:
    """A recursive-descent parser over one string, with a nesting limit."""

    __slots__ = ("depth", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            found = self.peek() or "end of text"
            raise ExpressionError(f"expected {char!r} at {found!r} in {shown(self.text)}")
        self.pos += 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_PARSE_DEPTH:
            raise ExpressionTooComplex("expression nests too deeply")

    # -- grammar ---------------------------------------------------------------------

    def expression(self) -> Node:
        # DecisionRules groups operators of one precedence from the right: its exported
        # trees hold a*b/c as TIMES(a, DIVIDED(b, c)), and its docs ask for (1-1)-1.
        self.enter()
        node = self.term()
        self.skip_space()
        op = self.peek()
        if op in ("+", "-"):
            self.pos += 1
            node = Call(_BINARY[op], (node, self.expression()))
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        self.skip_space()
        op = self.peek()
        if op in ("*", "/"):
            self.pos += 1
            self.enter()
            node = Call(_BINARY[op], (node, self.term()))
            self.depth -= 1
        return node

    def unary(self) -> Node:
        self.skip_space()
        if self.peek() == "+" and self.text[self.pos + 1 : self.pos + 2].isdigit():
            self.pos += 1  # a signed number: DATE_COMPUTE(DATE({input}), +20)
            return self.primary()
        if self.peek() == "-":
            self.pos += 1
            self.enter()
            operand = self.unary()
            self.depth -= 1
            value = operand.value if isinstance(operand, Literal) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return Literal(-value)
            return Call("MINUS_CHAR", (Literal(0), operand))
        return self.primary()

    def primary(self) -> Node:
        self.skip_space()
        char = self.peek()
        if not char:
            raise ExpressionError(f"missing value in {shown(self.text)}")
        if char == "(":
            self.pos += 1
            node = self.expression()
            self.expect(")")
            return node
        if char in "\"'":
            return parse_template(self.quoted())
        if char == "[":
            return self.array()
        if char == "{":
            return self.brace()
        if char.isdigit() or (char == "." and self.text[self.pos + 1 : self.pos + 2].isdigit()):
            return self.number_or_text()
        return self.word()

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(_unescape(self.text[self.pos + 1], quote))
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                return "".join(out)
            out.append(char)
        raise ExpressionError(f"unclosed quote in {shown(self.text)}")

    def array(self) -> Node:
        self.pos += 1
        items = self.items("]")
        return ArrayNode(tuple(items))

    def items(self, close: str) -> list[Node]:
        self.enter()
        items: list[Node] = []
        self.skip_space()
        if self.peek() == close:
            self.pos += 1
        else:
            while True:
                items.append(self.expression())
                self.skip_space()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                self.expect(close)
                break
        self.depth -= 1
        return items

    def brace(self) -> Node:
        """``{ref}`` or a JSON-like object ``{"key": expr, ...}``."""
        end = self.text.find("}", self.pos + 1)
        if end < 0:
            raise ExpressionError(f"unclosed '{{' in {shown(self.text)}")
        inner = self.text[self.pos + 1 : end]
        if not _looks_like_ref(inner) or "{" in inner:
            return self.object()
        ref = parse_ref(inner)
        self.pos = end + 1
        # Text right after the braces joins the value: DATE({input}Z) reads "<input>Z".
        suffix = _WORD_SUFFIX.match(self.text, self.pos)
        if suffix is None:
            return ref
        self.pos = suffix.end()
        return Template((ref, suffix.group(0)))

    def object(self) -> Node:
        self.enter()
        self.pos += 1
        entries: list[tuple[Node, Node]] = []
        self.skip_space()
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                key = self.object_key()
                self.expect(":")
                entries.append((key, self.expression()))
                self.skip_space()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                self.expect("}")
                break
        self.depth -= 1
        return ObjectNode(tuple(entries))

    def object_key(self) -> Node:
        """A key: quoted text, or an expression (``{{data}: 1}``, ``{1+2: "three"}``)."""
        self.skip_space()
        if self.peek() in "\"'":
            return Literal(self.quoted())
        if self.peek() == "{":
            return self.brace()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ":{}\"'":
            self.pos += 1
        return parse_expression(self.text[start : self.pos])

    def number_or_text(self) -> Node:
        start = self.pos
        end = start
        while end < len(self.text) and (self.text[end].isdigit() or self.text[end] == "."):
            end += 1
        if end < len(self.text) and self.text[end] in "eE":
            exp = end + 1
            if exp < len(self.text) and self.text[exp] in "+-":
                exp += 1
            if exp < len(self.text) and self.text[exp].isdigit():
                end = exp
                while end < len(self.text) and self.text[end].isdigit():
                    end += 1
        token = self.text[start:end]
        rest = self._bare_end(end)
        if self.text[end:rest].strip():  # "2nd", "3 apples": bare text that starts with a digit
            return self.word()
        self.pos = end
        try:
            number = float(token)
        except ValueError:
            return Literal(token)  # bare text of digits and dots: DATE(09.23.2024)
        if token.isdigit():
            return Literal(int(token))
        return Literal(number)

    def _bare_end(self, start: int) -> int:
        end = start
        while end < len(self.text) and self.text[end] not in _SPECIAL:
            end += 1
        return end

    def word(self) -> Node:
        """A function call, a keyword, or bare text up to the next special character."""
        start = self.pos
        end = self._bare_end(start)
        token = self.text[start:end].strip()
        if not token:
            raise ExpressionError(f"unexpected {self.peek()!r} in {shown(self.text)}")
        self.pos = end
        self.skip_space()
        if self.peek() == "(" and _is_name(token):
            return self.call(token.upper())
        if token in _KEYWORDS:
            return Literal(_KEYWORDS[token])
        return Literal(token)

    def call(self, name: str) -> Node:
        self.pos += 1
        if name in RAW_FUNCTIONS:
            return Call(name, (Literal(self.raw_argument()),))
        return Call(name, tuple(self.items(")")))

    def raw_argument(self) -> str:
        """Everything up to the matching ``)``, quotes around the whole removed."""
        level = 1
        start = self.pos
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if quote:
                quote = "" if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char == "(":
                level += 1
            elif char == ")":
                level -= 1
                if level == 0:
                    return _unquote(self.text[start : self.pos - 1].strip())
        raise ExpressionError(f"missing ')' in {shown(self.text)}")


def _is_name(token: str) -> bool:
    return token.replace("_", "a").isalnum() and not token[0].isdigit()


def _unescape(char: str, quote: str) -> str:
    """An escape in quoted text: quotes and backslashes lose the backslash, others keep it
    (so RE("(\\w+)") reaches the regex as written, as DecisionRules does)."""
    if char in ("\\", quote, "'", '"'):
        return char
    return {"n": "\n", "t": "\t", "r": "\r"}.get(char, "\\" + char)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            return str(json.loads('"' + text[1:-1].replace('"', '\\"') + '"'))
        except ValueError:
            return text[1:-1]
    return text
