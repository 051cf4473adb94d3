"""Readers of the list formats: `read_list(fmt, files, mapping=None) -> ParsedList`.

Each reader reads everything first and raises `ListFileError` at the first thing it cannot
read, naming the file and the line (CSV) or element (XML); nothing is written by a reader.
"""

from __future__ import annotations

from .base import ListFileError, ParsedDate, ParsedEntry, ParsedList
from .csvlist import read_csv_list
from .eu import read_eu
from .ofac import read_ofac
from .un import read_un

__all__ = ["ListFileError", "ParsedDate", "ParsedEntry", "ParsedList", "read_list"]


def read_list(fmt: str, files: list[tuple[str, bytes]], *, mapping=None) -> ParsedList:
    if not files:
        raise ListFileError("no file was given")
    if fmt == "ofac_sdn":
        return read_ofac(files)
    if fmt == "un":
        return read_un(files)
    if fmt == "eu":
        return read_eu(files)
    if fmt == "csv":
        if mapping is None:
            raise ListFileError("a CSV list needs a column mapping")
        return read_csv_list(files, mapping)
    raise ListFileError(f"unknown list format {fmt!r}")
