"""Allowed values of every option, declared once beside the option and checked at the boundary.

A config dataclass declares each field with :func:`option`, which records the field's range,
choices and command-line flag in the field's metadata. :func:`validate` reads those declarations,
so the Python API and the CLI refuse exactly the same values with the same one-line message
("--batch-size (batch_size) must be an integer >= 1, got 0"). Without it, a zero batch size or a
NaN learning rate ran to completion and reported "no items" with exit status 0: a CI job that
trusts the exit code saw success.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from dive_bench.errors import DiveBenchError

_KEY = "dive_bench"
_NESTED = "dive_bench.nested"


@dataclass(frozen=True)
class Allowed:
    """What one option accepts. ``value_type`` is "int", "float", "bool", "str" or "any"."""

    value_type: str = "any"
    low: float | None = None
    high: float | None = None
    #: ``low`` excluded (e.g. a learning rate must be > 0)
    low_open: bool = False
    choices: tuple | None = None
    #: None is a legal value (meaning "use the default rule", e.g. lr = 0.5 x table std)
    optional: bool = False
    flag: str | None = None
    #: earlier flags of a renamed option, still accepted by the CLI (e.g. ``--batch-size``)
    old_flags: tuple[str, ...] = ()
    #: the option's one-line help (the CLI generates its flags and help from these declarations)
    help: str = ""

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        what = {"int": "an integer", "float": "a finite number", "bool": "true or false",
                "str": "a string"}.get(self.value_type, "a value")
        if self.low is not None:
            what += f" {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            what += f"{' and' if self.low is not None else ''} <= {_num(self.high)}"
        return what + (" (or unset)" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.choices is not None:
            return value in self.choices
        if self.value_type == "bool":
            return isinstance(value, bool)
        if self.value_type == "str":
            return isinstance(value, str)
        if self.value_type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return False
            # an integer option takes integers only: 1e30 or 10.0 is a float, and a float that
            # passed would be stored as 10.0 (another run key than 10) or overflow a tensor size
            if self.value_type == "int" and not isinstance(value, numbers.Integral):
                return False
            if self.value_type == "float" and not math.isfinite(value):
                return False
            if self.low is not None and (value <= self.low if self.low_open else value < self.low):
                return False
            if self.high is not None and value > self.high:
                return False
        return True


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def option(default: Any, *, flag: str | None = None, **allowed: Any) -> Any:
    """A dataclass field with its allowed values (see :class:`Allowed`) in its metadata."""
    spec = Allowed(flag=flag, **allowed)
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not supported")
    return dataclasses.field(default=default, metadata={_KEY: spec})


def nested(config_cls: type, *, prefix: str = "") -> Any:
    """A field holding a sub-config (e.g. DIVE's layout prior). Its options keep flat names,
    ``prefix`` + field name, in the API, the CLI and run.json (see :func:`leaves`)."""
    return dataclasses.field(default_factory=config_cls, metadata={_NESTED: prefix})


def allowed_of(field: dataclasses.Field) -> Allowed | None:
    return field.metadata.get(_KEY)


def leaves(config_cls: type, prefix: str = "") -> list[tuple[str, tuple[str, ...], dataclasses.Field]]:
    """(flat name, attribute path, field) of every option of ``config_cls``, sub-configs expanded
    in declaration order: the one flat namespace of keywords, flags and stored configs."""
    out = []
    for f in dataclasses.fields(config_cls):
        if _NESTED in f.metadata:
            sub = prefix + f.metadata[_NESTED]
            out += [(name, (f.name, *path), leaf) for name, path, leaf in leaves(f.default_factory, sub)]
        else:
            out.append((prefix + f.name, (f.name,), f))
    return out


def name_of(field: dataclasses.Field, spec: Allowed | None = None, name: str | None = None) -> str:
    """How the message names an option: its flag and its (flat) Python name, so both audiences find it."""
    spec = spec or allowed_of(field)
    name = name or field.name
    return f"{spec.flag} ({name})" if spec is not None and spec.flag else name


def refuse(name: str, what: str, value: Any) -> DiveBenchError:
    return DiveBenchError(f"{name} must be {what}, got {value!r}")


def validate(config: Any) -> None:
    """Raise :class:`DiveBenchError` naming the first field of ``config`` outside its declared
    range; then run the config's own cross-field rules (``config.check()`` if it has one)."""
    for name, path, f in leaves(type(config)):
        spec = allowed_of(f)
        if spec is None:
            continue
        value = config
        for attr in path:
            value = getattr(value, attr)
        if not spec.accepts(value):
            raise refuse(name_of(f, spec, name), spec.describe(), value)
    check = getattr(config, "check", None)
    if callable(check):
        check()


def field_named(config_cls: type, name: str) -> str:
    """The display name of ``config_cls.name`` (flag and field), for cross-field messages."""
    for flat, _, f in leaves(config_cls):
        if flat == name:
            return name_of(f, name=flat)
    return name
