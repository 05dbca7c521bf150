"""Evaluate the Terraform module without Terraform: the providers cannot be downloaded here, so `terraform plan` cannot
run. python-hcl2 parses the files; this evaluates the expression language the module uses (operators, conditionals,
string templates, for expressions, splats and the handful of functions it calls) for given input values, so that
the tests compare what the module would deploy with what the CLI path deploys.

Values a plan only knows after apply (a resource's ARN) evaluate to the placeholder `<type.name.attribute>`. An
expression or function this does not know raises `HclError`: a test then fails rather than passing on a guess.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class HclError(Exception):
    """An expression this evaluator cannot evaluate, or one that Terraform would reject."""


def load(path: Path) -> dict[str, Any]:
    """A .tf or .tfvars file, values as HCL source text (string literals keep their quotes)."""
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


def unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


# -- parsing: HCL expression text -> a tree of tuples ------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|\[\*\]|[-+*/%<>!?:.,()\[\]{}=])
    | (?P<quote>")
    )""",
    re.VERBOSE,
)
_BINARY = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # tokens
    def _peek(self) -> tuple[str, str] | None:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            if self.text[self.pos :].strip():
                raise HclError(f"cannot read {self.text[self.pos : self.pos + 20]!r} in {self.text!r}")
            return None
        kind = match.lastgroup or ""
        return kind, match.group(kind)

    def _take(self) -> tuple[str, str]:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            raise HclError(f"unexpected end of {self.text!r}")
        self.pos = match.end()
        kind = match.lastgroup or ""
        return kind, match.group(kind)

    def _accept(self, value: str) -> bool:
        token = self._peek()
        if token is not None and token[0] in ("op", "name") and token[1] == value:
            self._take()
            return True
        return False

    def _expect(self, value: str) -> None:
        if not self._accept(value):
            raise HclError(f"expected {value!r} at {self.text[self.pos : self.pos + 20]!r} in {self.text!r}")

    # grammar
    def parse(self) -> tuple:
        node = self.expression()
        if self._peek() is not None:
            raise HclError(f"trailing text {self.text[self.pos :]!r}")
        return node

    def expression(self) -> tuple:
        condition = self._binary(0)
        if self._accept("?"):
            yes = self.expression()
            self._expect(":")
            no = self.expression()
            return ("cond", condition, yes, no)
        return condition

    def _binary(self, level: int) -> tuple:
        if level == len(_BINARY):
            return self._unary()
        left = self._binary(level + 1)
        while True:
            token = self._peek()
            if token is None or token[0] != "op" or token[1] not in _BINARY[level]:
                return left
            self._take()
            left = ("binary", token[1], left, self._binary(level + 1))

    def _unary(self) -> tuple:
        if self._accept("!"):
            return ("not", self._unary())
        if self._accept("-"):
            return ("neg", self._unary())
        return self._postfix(self._primary())

    def _postfix(self, node: tuple) -> tuple:
        while True:
            if self._accept("."):
                _, attribute = self._take()
                node = ("attr", node, attribute)
            elif self._accept("[*]"):
                node = ("splat", node)
            elif self._accept("["):
                index = self.expression()
                self._expect("]")
                node = ("index", node, index)
            else:
                return node

    def _primary(self) -> tuple:
        kind, value = self._take()
        if kind == "number":
            number = float(value)
            return ("value", int(number) if number.is_integer() else number)
        if kind == "quote":
            return self._template()
        if kind == "name":
            if value in ("true", "false"):
                return ("value", value == "true")
            if value == "null":
                return ("value", None)
            if self._accept("("):
                args = []
                while not self._accept(")"):
                    args.append(self.expression())
                    self._accept(",")
                return ("call", value, args)
            return ("name", value)
        if value == "(":
            node = self.expression()
            self._expect(")")
            return node
        if value == "[":
            return self._tuple()
        if value == "{":
            return self._object()
        raise HclError(f"unexpected {value!r} in {self.text!r}")

    def _tuple(self) -> tuple:
        if self._accept("for"):
            variable = self._take()[1]
            self._expect("in")
            collection = self.expression()
            self._expect(":")
            body = self.expression()
            condition = self.expression() if self._accept("if") else None
            self._expect("]")
            return ("for", variable, collection, body, condition)
        items = []
        while not self._accept("]"):
            items.append(self.expression())
            self._accept(",")
        return ("tuple", items)

    def _object(self) -> tuple:
        if self._accept("for"):
            raise HclError("object for expressions are not supported")
        items = []
        while not self._accept("}"):
            kind, key = self._take()
            if kind == "quote":
                key_node = self._template()
            elif kind == "name":
                key_node = ("value", key)
            else:
                raise HclError(f"object key {key!r} in {self.text!r}")
            if not (self._accept("=") or self._accept(":")):
                raise HclError(f"expected = after {key!r}")
            items.append((key_node, self.expression()))
            self._accept(",")
        return ("object", items)

    def _template(self) -> tuple:
        """A quoted string (the opening quote is read): literal parts and ${...} interpolations."""
        parts: list[Any] = []
        literal: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise HclError(f"unterminated string in {text!r}")
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                break
            if char == "\\":
                escaped = text[self.pos + 1]
                if escaped == "u":
                    literal.append(chr(int(text[self.pos + 2 : self.pos + 6], 16)))
                    self.pos += 6
                    continue
                if escaped not in _ESCAPES:
                    raise HclError(f"unknown escape \\{escaped} in {text!r}")
                literal.append(_ESCAPES[escaped])
                self.pos += 2
            elif text.startswith("$${", self.pos) or text.startswith("%%{", self.pos):
                literal.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
            elif text.startswith("${", self.pos):
                if literal:
                    parts.append("".join(literal))
                    literal = []
                self.pos += 2
                parts.append(self.expression())
                self._expect("}")
            elif text.startswith("%{", self.pos):
                raise HclError(f"template directives are not supported: {text!r}")
            else:
                literal.append(char)
                self.pos += 1
        if literal:
            parts.append("".join(literal))
        return ("template", parts)


def parse(source: Any) -> Any:
    """A value as python-hcl2 gives it -> a tree: `${expr}` and `"template"` strings are parsed, containers walked."""
    if isinstance(source, str):
        if source.startswith('"'):
            return _Parser(source).parse()
        if source.startswith("${") and source.endswith("}"):
            return _Parser(source[2:-1]).parse()
        raise HclError(f"neither an expression nor a string literal: {source!r}")
    if isinstance(source, dict):
        return ("object", [(("value", unquote(k)), parse(v)) for k, v in source.items()])
    if isinstance(source, list):
        return ("tuple", [parse(item) for item in source])
    return ("value", source)


# -- evaluation --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    """A reference to a resource or data source instance; its attributes are known only after apply."""

    address: str

    def attribute(self, name: str) -> str:
        return f"<{self.address}.{name}>"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise HclError(f"cannot convert {value!r} to a string")


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HclError(f"a number is required, not {value!r}")
    return value


def _regex(pattern: str, text: str) -> str:
    if not isinstance(text, str):
        raise HclError(f"regex on {text!r}")
    match = re.search(pattern, text)
    if match is None:
        raise HclError(f"{pattern!r} does not match")
    return match.group(0)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise HclError("coalesce: no non-null argument")


def _one(values: list) -> Any:
    if len(values) > 1:
        raise HclError("one: more than one element")
    return values[0] if values else None


def _templatefile(path: str, variables: dict[str, Any]) -> str:
    text = Path(path).read_text(encoding="utf-8")
    if "%{" in text.replace("%%{", ""):
        raise HclError(f"{path}: template directives are not supported")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise HclError(f"{path}: vars map does not contain key {name!r}")  # as Terraform rejects it
        return _text(variables[name])

    return re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}", fill, text)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "alltrue": lambda values: all(values),
    "anytrue": lambda values: any(values),
    "coalesce": _coalesce,
    "concat": lambda *lists: [item for values in lists for item in values],
    "contains": lambda values, value: value in values,
    "endswith": lambda text, suffix: text.endswith(suffix),
    "file": lambda path: Path(path).read_text(encoding="utf-8"),
    "filebase64sha256": lambda path: base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode(),
    "floor": lambda number: math.floor(_number(number)),
    "join": lambda separator, values: separator.join(_text(v) for v in values),
    "jsonencode": lambda value: json.dumps(value, separators=(",", ":")),
    "length": len,
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "one": _one,
    "regex": _regex,
    "startswith": lambda text, prefix: text.startswith(prefix),
    "templatefile": _templatefile,
    "tostring": _text,
    "trimsuffix": lambda text, suffix: text[: -len(suffix)] if suffix and text.endswith(suffix) else text,
}


@dataclass
class Scope:
    """What names mean: var, local, each, path, data and resources, plus for-expression variables."""

    variables: dict[str, Any]
    locals_source: dict[str, Any] = field(default_factory=dict)
    module_path: Path = Path()
    data: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    each: dict[str, Any] | None = None
    bound: dict[str, Any] = field(default_factory=dict)
    _locals: dict[str, Any] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    def local(self, name: str) -> Any:
        if name not in self._locals:
            if name not in self.locals_source:
                raise HclError(f"unknown local.{name}")
            if name in self._evaluating:
                raise HclError(f"local.{name} refers to itself")
            self._evaluating.add(name)
            self._locals[name] = evaluate(parse(self.locals_source[name]), self)
            self._evaluating.discard(name)
        return self._locals[name]

    def with_bound(self, name: str, value: Any) -> Scope:
        scope = Scope(**{**self.__dict__, "bound": {**self.bound, name: value}})
        scope._locals = self._locals
        return scope


def _root(node: tuple, scope: Scope) -> Any:
    """A name, or the chain of attributes after it: var.x, local.y, path.module, data.t.n.a, aws_x.name.attr."""
    chain: list[str] = []
    while node[0] == "attr":
        chain.insert(0, node[2])
        node = node[1]
    if node[0] != "name":
        return _attributes(evaluate(node, scope), chain)
    name = node[1]
    if name in scope.bound:
        return _attributes(scope.bound[name], chain)
    if name == "var":
        if chain[0] not in scope.variables:
            raise HclError(f"unknown var.{chain[0]}")
        return _attributes(scope.variables[chain[0]], chain[1:])
    if name == "local":
        return _attributes(scope.local(chain[0]), chain[1:])
    if name == "each":
        if scope.each is None:
            raise HclError("each outside for_each")
        return _attributes(scope.each, chain)
    if name == "path":
        if chain[0] not in ("module", "root", "cwd"):
            raise HclError(f"path.{chain[0]}")
        return _attributes(str(scope.module_path), chain[1:])
    if name == "data":
        key = ".".join(chain[:3])
        if key not in scope.data:
            raise HclError(f"no value given for data.{key}")
        return _attributes(scope.data[key], chain[3:])
    if not chain:
        raise HclError(f"unknown name {name!r}")
    resource = Resource(f"{name}.{chain[0]}")
    return _attributes(resource, chain[1:])


def _attributes(value: Any, chain: list[str]) -> Any:
    for name in chain:
        if isinstance(value, Resource):
            value = value.attribute(name)
        elif isinstance(value, dict) and name in value:
            value = value[name]
        elif isinstance(value, list):
            value = [_attributes(item, [name]) for item in value]
        else:
            raise HclError(f"no attribute {name!r} in {value!r}")
    return value


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op in ("&&", "||"):
        if not isinstance(left, bool) or not isinstance(right, bool):
            raise HclError(f"{op} needs booleans: {left!r}, {right!r}")
        return (left and right) if op == "&&" else (left or right)
    left, right = _number(left), _number(right)
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    return operations[op](left, right)


def evaluate(node: tuple, scope: Scope) -> Any:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "template":
        parts = [part if isinstance(part, str) else evaluate(part, scope) for part in node[1]]
        if len(parts) == 1 and not isinstance(node[1][0], str):
            return parts[0]  # "${x}" is x itself, whatever its type
        return "".join(_text(part) for part in parts)
    if kind in ("name", "attr"):
        return _root(node, scope)
    if kind == "index":
        collection, index = evaluate(node[1], scope), evaluate(node[2], scope)
        try:
            return collection[index]
        except (KeyError, IndexError, TypeError) as error:
            raise HclError(f"invalid index {index!r}") from error
    if kind == "splat":
        target = evaluate(node[1], scope)
        if isinstance(target, Resource):
            count = scope.counts.get(target.address)
            if count is None:
                raise HclError(f"{target.address}[*] without a known count")
            return [Resource(f"{target.address}[{i}]") for i in range(count)]
        return target if isinstance(target, list) else [] if target is None else [target]
    if kind == "cond":
        condition = evaluate(node[1], scope)
        if not isinstance(condition, bool):
            raise HclError(f"condition is not a boolean: {condition!r}")
        return evaluate(node[2] if condition else node[3], scope)
    if kind == "binary":
        return _binary(node[1], evaluate(node[2], scope), evaluate(node[3], scope))
    if kind == "not":
        value = evaluate(node[1], scope)
        if not isinstance(value, bool):
            raise HclError(f"! needs a boolean: {value!r}")
        return not value
    if kind == "neg":
        return -_number(evaluate(node[1], scope))
    if kind == "tuple":
        return [evaluate(item, scope) for item in node[1]]
    if kind == "object":
        return {_text(evaluate(key, scope)): evaluate(value, scope) for key, value in node[1]}
    if kind == "for":
        _, variable, collection, body, condition = node
        items = evaluate(collection, scope)
        results = []
        for item in items.values() if isinstance(items, dict) else items:
            inner = scope.with_bound(variable, item)
            if condition is None or evaluate(condition, inner):
                results.append(evaluate(body, inner))
        return results
    if kind == "call":
        name, args = node[1], node[2]
        if name == "can":
            try:
                evaluate(args[0], scope)
            except HclError:
                return False
            return True
        if name not in FUNCTIONS:
            raise HclError(f"function {name}() is not known to this evaluator")
        try:
            return FUNCTIONS[name](*(evaluate(arg, scope) for arg in args))
        except HclError:
            raise
        except (TypeError, ValueError, AttributeError, OSError) as error:
            raise HclError(f"{name}(): {error}") from error
    raise HclError(f"unknown node {kind}")


# -- a module: its variables, validations, locals and resources ---------------------------------------------------
def module_files(module: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(module.glob("*.tf")):
        yield path, load(path)


@dataclass
class Module:
    """A module folder, evaluated for one set of input values."""

    path: Path
    inputs: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.variables: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.module_calls: dict[str, dict[str, Any]] = {}
        locals_source: dict[str, Any] = {}
        for _, content in module_files(self.path):
            for entry in content.get("variable", []):
                self.variables.update({unquote(k): v for k, v in entry.items()})
            for entry in content.get("locals", []):
                locals_source.update(entry)
            for entry in content.get("resource", []):
                for kind, bodies in entry.items():
                    for name, body in bodies.items():
                        self.resources[f"{unquote(kind)}.{unquote(name)}"] = body
            for entry in content.get("output", []):
                self.outputs.update({unquote(k): v for k, v in entry.items()})
            for entry in content.get("module", []):
                self.module_calls.update({unquote(k): v for k, v in entry.items()})
        unknown = set(self.inputs) - set(self.variables)
        if unknown:
            raise HclError(f"no such variable(s): {sorted(unknown)}")
        values = {}
        for name, spec in self.variables.items():
            if name in self.inputs:
                values[name] = self.inputs[name]
            elif "default" in spec:
                values[name] = evaluate(parse(spec["default"]), Scope(variables={}))
            else:
                raise HclError(f"variable {name!r} is required")
        self.scope = Scope(variables=values, locals_source=locals_source, module_path=self.path, data=self.data)
        for address, body in self.resources.items():
            if "count" in body:
                self.scope.counts[address] = self.evaluate(body["count"])

    def evaluate(self, source: Any) -> Any:
        return evaluate(parse(source), self.scope)

    def validation_errors(self) -> list[str]:
        """The error message of every validation the input values fail (Terraform's plan would stop on them)."""
        errors = []
        for name, spec in self.variables.items():
            for rule in spec.get("validation", []):
                scope = Scope(variables={name: self.scope.variables[name]})
                try:
                    ok = evaluate(parse(rule["condition"]), scope)
                except HclError as error:
                    errors.append(f"{name}: condition failed to evaluate: {error}")
                    continue
                if ok is not True:
                    errors.append(evaluate(parse(rule["error_message"]), scope))
        return errors

    def resource(self, address: str) -> dict[str, Any]:
        """A resource's arguments, evaluated (blocks as lists of dicts, as python-hcl2 gives them)."""
        body = self.resources[address]
        return {key: self.evaluate(value) for key, value in body.items() if key not in ("lifecycle", "depends_on")}

    def count(self, address: str) -> int:
        return self.scope.counts.get(address, 1)
