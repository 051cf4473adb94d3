"""Rows for the large demo book written the fast way: ids reserved from the tables' own
sequences and rows streamed with COPY, in the caller's transaction.

The database's own rules still hold: COPY fires the ledger's triggers (balances follow the
postings, each transaction balanced at commit) and every constraint. What COPY skips is what
Django adds in Python (`auto_now_add`, defaults): `copy_rows` fills a model's defaults, and a
NOT NULL field with none must be given.
"""

from __future__ import annotations

import json

from django.db import connection, models

ABSENT = object()


def reserve_ids(model, count: int) -> list[int]:
    """`count` new primary keys from the model's sequence (never used by anyone else)."""
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _columns(model, given: set[str]):
    out = []
    for field in model._meta.concrete_fields:
        name = field.attname
        if name in given:
            out.append((name, field.column, ABSENT, isinstance(field, models.JSONField)))
            continue
        if field.primary_key:
            continue  # the sequence fills it
        if field.has_default():
            default = field.get_default()
        elif field.null:
            default = None
        elif getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            continue  # the database fills it
        else:
            raise ValueError(f"{model.__name__}.{name} is NOT NULL and has no default: give it")
        out.append((name, field.column, default, isinstance(field, models.JSONField)))
    return out


def copy_rows(model, rows: list[dict]) -> int:
    """COPY `rows` (dicts by attribute name, e.g. `client_id`) into the model's table; every
    row gives the same keys. Returns how many."""
    if not rows:
        return 0
    columns = _columns(model, set(rows[0]))
    names = ", ".join(connection.ops.quote_name(c[1]) for c in columns)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"
    plan = [(name, default, is_json) for name, _column, default, is_json in columns]
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = []
            for name, default, is_json in plan:
                value = row[name] if default is ABSENT else default
                if is_json and value is not None:
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)
    return len(rows)
