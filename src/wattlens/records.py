"""The base of every typed result record: a frozen dataclass whose ``to_dict()`` IS its JSON contract.

Stdlib only and below every layer, so each layer declares its own records (``wattlens.bench.records``,
``wattlens.optimize.results``, ...) on one footing:

* fields carry units in their names (``energy_j``, ``duration_s``, ``power_w``, ``wh_per_1000``);
* ``to_dict()`` writes every field under its name (``key=`` in the field's metadata renames it), nested
  records as their own dicts, tuples as lists; a field declared with :func:`optional` is left out while it is
  ``None`` (keys that appear only when they apply, e.g. ``violation``);
* ``from_dict()`` reads a stored or received dict back, rebuilding nested records; keys it does not know are
  ignored and missing ones take the field's default, so records written by older versions still load.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Reading(Record):
...     energy_j: float
...     source: str = "estimated"
...     note: str | None = optional()
>>> Reading(1.5).to_dict()
{'energy_j': 1.5, 'source': 'estimated'}
>>> Reading.from_dict({"energy_j": 2.0, "note": "x", "unknown": 1})
Reading(energy_j=2.0, source='estimated', note='x')
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

R = TypeVar("R", bound="Record")

# A dict as it travels as JSON: what to_dict() returns and from_dict() accepts.
JsonDict = dict[str, object]

_OMIT_NONE = "omit_if_none"
_KEY = "key"
_INTERNAL = "internal"


def optional(default: object = None, *, key: str | None = None) -> Any:
    """A field left out of ``to_dict()`` while it is ``None`` (a key present only when it applies)."""
    meta: dict[str, object] = {_OMIT_NONE: True}
    if key:
        meta[_KEY] = key
    return dataclasses.field(default=default, metadata=meta)


def internal(default_factory: Any = tuple) -> Any:
    """A field a computation carries along but the JSON contract leaves out (never written, never read)."""
    return dataclasses.field(default_factory=default_factory, metadata={_INTERNAL: True}, compare=False, repr=False)


def renamed(key: str, default: object = dataclasses.MISSING) -> Any:
    """A field written under another JSON key (e.g. a Python keyword or a name with a dash)."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={_KEY: key})
    return dataclasses.field(default=default, metadata={_KEY: key})


_PLAIN = (str, int, float, bool, type(None))


def to_json(value: object) -> object:
    """A value as plain JSON types: records via ``to_dict``, tuples as lists, mappings with string keys."""
    if type(value) in _PLAIN:  # the common case first: a page of 10,000 figures is mostly numbers
        return value
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def json_key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get(_KEY, f.name))


class Record:
    """Mixin for frozen dataclasses (see the module docstring)."""

    def to_dict(self) -> JsonDict:
        out: JsonDict = {}
        for name, key, omit_none in _writing_plan(type(self)):
            value = getattr(self, name)
            if value is None and omit_none:
                continue
            out[key] = value if type(value) in _PLAIN else to_json(value)
        return out

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, object]) -> R:
        kwargs: dict[str, object] = {}
        for name, key, conv in _reading_plan(cls):
            if key in data:
                value = data[key]
                kwargs[name] = value if conv is None else conv(value)
        return cls(**kwargs)

    @classmethod
    def json_keys(cls) -> tuple[str, ...]:
        """Every key ``to_dict()`` can write (the contract, in field order)."""
        return tuple(json_key(f) for f in dataclasses.fields(cls) if not f.metadata.get(_INTERNAL))  # type: ignore[arg-type]


_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    """The resolved field annotations of a record class (cached: resolving them is the slow part)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def _record_type(tp: object) -> type[Record] | None:
    return tp if isinstance(tp, type) and issubclass(tp, Record) else None


Converter = Callable[[object], object]
# (field name, JSON key, left out while None), per record class: what to_dict writes
_WRITE_PLANS: dict[type, tuple[tuple[str, str, bool], ...]] = {}


def _writing_plan(cls: type) -> tuple[tuple[str, str, bool], ...]:
    plan = _WRITE_PLANS.get(cls)
    if plan is None:
        plan = _WRITE_PLANS[cls] = tuple(
            (f.name, json_key(f), bool(f.metadata.get(_OMIT_NONE)))
            for f in dataclasses.fields(cls)
            if not f.metadata.get(_INTERNAL)
        )
    return plan


# (field name, JSON key, converter or None when the JSON value is used as it is), per record class
_PLANS: dict[type, tuple[tuple[str, str, Converter | None], ...]] = {}


def _reading_plan(cls: type) -> tuple[tuple[str, str, Converter | None], ...]:
    """How ``from_dict`` reads each field of ``cls``: worked out once per class (reading 10,000 stored cells must
    not resolve the same annotations 10,000 times)."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = _hints(cls)
        plan = _PLANS[cls] = tuple(
            (f.name, json_key(f), _converter(hints[f.name]))
            for f in dataclasses.fields(cls)
            if f.init and not f.metadata.get(_INTERNAL)
        )
    return plan


def convert(tp: object, value: object) -> object:
    """``value`` (parsed JSON) as the annotated type ``tp``: nested records rebuilt, lists as tuples where the
    field is a tuple. Anything else passes through unchanged (JSON numbers, strings, free-form mappings)."""
    conv = _converter(tp)
    return value if conv is None else conv(value)


def _converter(tp: object) -> Converter | None:
    """The function that turns parsed JSON into ``tp`` (None: nothing to convert), memoised per annotation."""
    try:
        return _cached_converter(tp)
    except TypeError:  # an unhashable annotation: build it every time
        return _build_converter(tp)


@functools.cache
def _cached_converter(tp: object) -> Converter | None:
    return _build_converter(tp)


def _build_converter(tp: object) -> Converter | None:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return _union_converter(get_args(tp))
    rec = _record_type(tp)
    if rec is not None:
        return lambda value: rec.from_dict(value) if isinstance(value, Mapping) else value
    args = get_args(tp)
    if origin is tuple:
        item = _converter(args[0] if args else object)
        return lambda value: _sequence(value, item, tuple)
    if origin is list:
        item = _converter(args[0] if args else object)
        return lambda value: _sequence(value, item, list)
    if origin in (dict, Mapping, typing.Mapping):
        val = _converter(args[1] if len(args) == 2 else object)
        if val is None:
            return lambda value: dict(value) if isinstance(value, Mapping) else value
        return lambda value: {k: val(v) for k, v in value.items()} if isinstance(value, Mapping) else value
    return None


def _union_converter(args: tuple[object, ...]) -> Converter | None:
    """``X | Y | None``: a mapping becomes the first record type among the arms, anything else goes to the first
    generic arm (``tuple[...]``, ``Mapping[...]``), else it is kept as it is."""
    rec = next((r for r in map(_record_type, args) if r is not None), None)
    generic = next((a for a in args if a is not type(None) and get_origin(a) is not None), None)
    inner = None if generic is None else _converter(generic)
    if rec is None and inner is None:
        return None

    def conv(value: object) -> object:
        if value is None:
            return None
        if rec is not None and isinstance(value, Mapping):
            return rec.from_dict(value)
        return value if inner is None else inner(value)

    return conv


def _sequence(value: object, item: Converter | None, kind: type) -> object:
    if not isinstance(value, (list, tuple)):
        return value
    return kind(value) if item is None else kind(item(v) for v in value)


def records_from(cls: type[R], items: object) -> list[R]:
    """A list of ``cls`` from a list of dicts (or records already), e.g. rows given by a caller."""
    if not isinstance(items, (list, tuple)):
        return []
    out: list[R] = []
    for it in items:
        if isinstance(it, cls):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(cls.from_dict(it))
    return out
