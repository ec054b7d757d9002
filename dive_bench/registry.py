"""A small typed registry: decorator registration, lazy ``module:attr`` entries, entry points,
and prefix factories (``folder:DIR`` names built on lookup).

Why lazy entries: importing diffusers or torchvision to print ``dive-bench list`` would cost
seconds, and a broken optional plugin must not break every command. An entry is imported the
first time it is looked up.
"""

from __future__ import annotations

import fnmatch
import importlib
from typing import Callable, Generic, Iterator, TypeVar

from dive_bench.errors import DiveBenchError
from dive_bench.util.suggest import close_names

T = TypeVar("T")


def _import_ref(ref: str) -> object:
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"lazy registry entry {ref!r} must look like 'package.module:attribute'")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named objects of one kind (adapters, tasks, datasets, checkpoints).

    ``entry_point_group`` names a Python entry-point group that third-party packages can use to
    add entries without touching this code (``[project.entry-points."dive_bench.adapters"]``).
    """

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T | str] = {}
        self._descriptions: dict[str, str] = {}
        self._plugins_loaded = False
        #: prefix -> (factory or "module:attr", usage, description); see register_prefix
        self._prefixes: dict[str, tuple[Callable[[str], T] | str, str, str]] = {}

    def register(self, name: str, obj: T | str | None = None, *, description: str = "") -> Callable:
        """Register ``obj`` (or a ``"module:attr"`` string) under ``name``; usable as a decorator."""

        def add(target: T | str) -> T | str:
            if name in self._items and self._items[name] is not target:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = target
            if description or isinstance(target, str):
                self._descriptions[name] = description
            else:
                self._descriptions[name] = ((target.__doc__ or "").strip().splitlines() or [""])[0]
            return target

        if obj is not None:
            add(obj)
            return lambda x: x
        return add

    def register_prefix(self, prefix: str, factory: Callable[[str], T] | str, *, usage: str = "",
                        description: str = "") -> None:
        """Names ``PREFIX:REST`` that no entry holds are built by ``factory(REST)`` on lookup.

        For objects named by data rather than registered one by one (``folder:/data/test``): every
        caller of :meth:`get` resolves them the same way, including code that reads a stored name
        back. ``factory`` may be a ``"module:attr"`` string, imported on first use; it raises
        :class:`DiveBenchError` for a REST it cannot resolve. ``usage`` (``folder:DIR``) is shown
        in unknown-name errors and by :meth:`prefixes`.
        """
        if not prefix or ":" in prefix:
            raise ValueError(f"{self.kind} prefix {prefix!r} must be non-empty and hold no ':'")
        if prefix in self._prefixes:
            raise ValueError(f"{self.kind} prefix {prefix!r} is already registered")
        self._prefixes[prefix] = (factory, usage or f"{prefix}:...", description)

    def prefixes(self) -> dict[str, str]:
        """Usage (``folder:DIR``) -> description of each registered prefix."""
        return {usage: description for _, usage, description in self._prefixes.values()}

    def _prefix_of(self, name: str) -> str | None:
        head, sep, _ = name.partition(":")
        return head if sep and head in self._prefixes else None

    def _build(self, prefix: str, name: str) -> T:
        factory, usage, description = self._prefixes[prefix]
        if isinstance(factory, str):
            try:
                factory = _import_ref(factory)
            except (ImportError, AttributeError) as exc:
                raise DiveBenchError(f"{self.kind} prefix {prefix!r} points to {factory!r}, which cannot be imported: "
                                     f"{exc}") from exc
            self._prefixes[prefix] = (factory, usage, description)
        return factory(name.partition(":")[2])

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self.entry_point_group:
            return
        self._plugins_loaded = True
        # imported here: importlib.metadata costs ~20 ms, a quarter of `dive-bench --help`, which
        # never looks a plugin up
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.value
                self._descriptions[ep.name] = f"plugin ({ep.value})"

    def names(self, pattern: str = "*") -> list[str]:
        self._load_plugins()
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def describe(self, name: str) -> str:
        self._load_plugins()
        return self._descriptions.get(name, "")

    def __contains__(self, name: str) -> bool:
        """True for a registered name, and for any ``PREFIX:REST`` of a registered prefix (whether
        REST resolves is only known when :meth:`get` builds it)."""
        self._load_plugins()
        return name in self._items or self._prefix_of(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The object registered as ``name``; an unknown name suggests the closest ones."""
        self._load_plugins()
        if name not in self._items:
            prefix = self._prefix_of(name)
            if prefix is not None:
                return self._build(prefix, name)
            head, sep, _ = name.partition(":")
            close = close_names(name, self._items)
            if sep:  # foldr:/data -> folder:
                close += [f"{p}:" for p in close_names(head, self._prefixes, n=2, cutoff=0.6)]
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._items)) or "none"
            forms = f"; or {', '.join(u for _, u, _ in self._prefixes.values())}" if self._prefixes else ""
            raise DiveBenchError(f"unknown {self.kind} {name!r}.{hint} Known: {known}{forms}.")
        item = self._items[name]
        if isinstance(item, str):
            try:
                item = _import_ref(item)
            except (ImportError, AttributeError) as exc:
                raise DiveBenchError(f"{self.kind} {name!r} points to {item!r}, which cannot be imported: {exc}") from exc
            self._items[name] = item
        return item  # type: ignore[return-value]


def lazy_exports(module_globals: dict, table: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``table[name]`` ("module:attr", or "module" for an
    attribute of the same name) on first use and caches it in the module: packages re-export
    classes whose modules load torch without loading torch themselves."""
    def __getattr__(name: str) -> object:
        if name not in table:
            raise AttributeError(f"module {module_globals['__name__']!r} has no attribute {name!r}")
        module, _, attr = table[name].partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        module_globals[name] = value
        return value

    return __getattr__
