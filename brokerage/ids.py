"""Ids that come from outside (a URL, a query string, a form) read one way.

Every primary key is a Postgres bigint, so an id is 1 to 19 ASCII digits no larger than
2**63 - 1. Anything else is no id at all: `parse_id` answers None (a filter that is ignored or a
clear 400, as the caller decides) and the `id` path converter does not match (a 404). Nothing
turns a 4,301-digit number into an exception, or sends an out-of-range number to the database.
"""

from django.urls import register_converter

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value) -> int | None:
    """The id written in `value`, or None when it is not one (blank, signed, not ASCII
    digits, zero, or beyond a bigint)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_ids(values, *, limit: int = 1000) -> list[int]:
    """The ids among `values` (each as `parse_id` reads it), at most `limit` of them."""
    return [number for number in map(parse_id, values) if number is not None][:limit]


class IdConverter:
    """`<id:name>` in a URL: a primary key, or no match (404)."""

    regex = f"[0-9]{{1,{_MAX_DIGITS}}}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)
        return number

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")


def parse_days(params, first: str, last: str) -> tuple | None:
    """(first day, last day) from two ISO dates in the query string `params`, or None when
    either is missing, not a date or they are the wrong way round (a list is then not narrowed
    by them): the date ranges the leadership figures link to lists with."""
    from django.utils.dateparse import parse_date

    try:
        start, end = parse_date(params.get(first, "")), parse_date(params.get(last, ""))
    except ValueError:
        return None
    return (start, end) if start and end and start <= end else None
