"""Querysets compiled to SQL once per process: for the reads of the pages that run them most.

Django turns a queryset into SQL each time it runs it: building its filters and compiling them
costs half a millisecond or more a query, often more than Postgres takes to answer it, and a
detail page of forty queries spends a quarter of its time there. A `Statement` is a queryset
whose shape never changes from one call to the next (the same filters, joins, order and slice)
and whose values are bound at each call. It is built and compiled the first time it runs in a
process (per database alias, as the router chooses); each later call binds its values into the
compiled statement and runs it through Django's own iterables, so it returns what the queryset
would: model instances with their `select_related` objects and annotations, `values()` dicts,
`values_list()` tuples, with `prefetch_related` done as usual.

    _alerts = Statement(
        lambda v: Alert.objects.filter(client_id=v.client_id).select_related("source")
        .order_by("-score", "pk")[:8]
    )
    alerts = _alerts(client_id=client.pk)      # a list of Alert
    newest = _newest.first(client_id=client.pk)  # the first row, or None

The builder is given `v`, each attribute of which stands for the value of that name at each
call (`v.client_id` is bound to `client_id=`): every value that can differ between calls must
come through `v`. A value the builder computes itself (`timezone.now()`, a setting read at the
time, a role's scope) would be frozen into the statement at its first call. Under
`settings.STATEMENTS_VERIFY` (the test settings) every call builds and compiles the queryset
again and raises if its SQL or any of its constants differ from the compiled statement's, so a
builder that freezes a value fails the suite instead of serving stale rows.

A bound value stands where a single value goes (`=`, `<`, `>=`, a function's argument): for a
list, use `v.name` inside `__in=Array(v.name, "bigint")` (`IN (SELECT unnest(...))`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


class _Slot:
    """Where a bound value goes among a compiled statement's parameters."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<value {self.name}>"


class _Values:
    """What the builder is given: each attribute stands for the call's value of that name."""

    def __init__(self):
        self.slots: dict[str, _Slot] = {}

    def __getattr__(self, name: str) -> RawSQL:
        if name.startswith("_"):
            raise AttributeError(name)
        return RawSQL("%s", (self.slot(name),))

    def slot(self, name: str) -> _Slot:
        return self.slots.setdefault(name, _Slot(name))


def Array(value: RawSQL, sql_type: str) -> RawSQL:  # noqa: N802 (reads as the SQL it makes)
    """A bound list, for `__in`: `field__in=Array(v.ids, "bigint")`."""
    (slot,) = value.params
    # the type is the caller's literal, the list is a parameter
    return RawSQL(f"SELECT unnest(%s::{sql_type}[])", (slot,))  # noqa: S611


class _Compiled:
    """One alias's compiled statement: the compiler (its select, joins and converters set up by
    compiling), the SQL and its parameters with the slots among them."""

    __slots__ = ("compiler", "sql", "params", "names", "converters")

    def __init__(self, compiler, sql: str | None, params: tuple, names: frozenset[str]):
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.names = names
        # the rows' converters, per connection (their methods are the connection's; a thread's
        # connection gone, its entry goes)
        self.converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compile(queryset: QuerySet, db: str, names: frozenset[str]) -> _Compiled:
    compiler = queryset.query.get_compiler(using=db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # a shape that can match nothing, whatever the values
        sql, params = None, ()
    compiler.connection = None  # each call runs on its own thread's connection
    return _Compiled(compiler, sql, tuple(params), names)


def _shape(compiled: _Compiled) -> tuple:
    return compiled.sql, tuple(
        ("bound", p.name) if type(p) is _Slot else (type(p).__name__, p) for p in compiled.params
    )


class Statement:
    """A queryset of a fixed shape, compiled once per process and alias; each call binds its
    values (keyword arguments, by the names the builder used) and returns the rows as a list."""

    def __init__(self, build: Callable[[Any], QuerySet]):
        self.build = build
        self._queryset: QuerySet | None = None
        self._names: frozenset[str] = frozenset()
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _template(self) -> QuerySet:
        if self._queryset is None:
            with self._lock:
                if self._queryset is None:
                    values = _Values()
                    queryset = self.build(values)
                    self._names = frozenset(values.slots)
                    self._queryset = queryset
        return self._queryset

    def _for(self, queryset: QuerySet, db: str) -> _Compiled:
        compiled = self._compiled.get(db)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(db)
                if compiled is None:
                    compiled = self._compiled[db] = _compile(queryset, db, self._names)
        return compiled

    def __call__(self, **values) -> list:
        template = self._template()
        if values.keys() != self._names:
            missing = sorted(self._names - values.keys())
            extra = sorted(values.keys() - self._names)
            raise TypeError(f"statement values: missing {missing}, unknown {extra}")
        queryset = template._chain()
        db = queryset._db = queryset.db  # the router asked once: the rows say where they came from
        compiled = self._for(template, db)
        if getattr(settings, "STATEMENTS_VERIFY", False):
            self._verify(compiled, db)
        if compiled.sql is None:
            return []
        params = tuple(values[p.name] if type(p) is _Slot else p for p in compiled.params)
        # A compiler of its own for this call: the compiled one's state, this thread's
        # connection, and the statement with this call's values.
        compiler = object.__new__(type(compiled.compiler))
        compiler.__dict__.update(compiled.compiler.__dict__)
        compiler.connection = connection = connections[db]
        sql = compiled.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        converters = compiled.converters.get(connection)
        if converters is None:
            converters = compiled.converters[connection] = compiler.get_converters(
                [s[0] for s in compiler.select[0 : compiler.col_count]]
            )
        compiler.get_converters = lambda expressions: converters
        queryset.query.get_compiler = lambda *args, **kwargs: compiler
        return list(queryset)

    def first(self, **values):
        """The first row, or None (the builder slices to one row itself)."""
        rows = self(**values)
        return rows[0] if rows else None

    def _verify(self, compiled: _Compiled, db: str) -> None:
        values = _Values()
        again = _compile(self.build(values), db, frozenset(values.slots))
        if again.names != compiled.names or _shape(again) != _shape(compiled):
            raise AssertionError(
                f"statement {self.build!r} is not of a fixed shape: compiled as\n"
                f"{_shape(compiled)}\nnow\n{_shape(again)}\n"
                "(a value that changes between calls must be bound, not computed by the builder)"
            )
