"""XML list files, read safely: defusedxml refuses DTDs, entity declarations and external
references (no entity expansion, no network), and a parse error names the line and column."""

from __future__ import annotations

import io
from datetime import date
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from .base import ListFileError


def parse_xml(name: str, data: bytes):
    """The root element of `data`, or ListFileError naming the place it broke."""
    if not data.strip():
        raise ListFileError("the file is empty", where=name)
    try:
        return parse(io.BytesIO(data), forbid_dtd=True).getroot()
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise ListFileError(
            f"not well-formed XML ({reason})", where=f"{name} line {line}, column {column}"
        ) from None
    except DefusedXmlException as exc:
        raise ListFileError(f"refused: {exc}", where=name) from None


def xml_root(files: list[tuple[str, bytes]], *, what: str, root_tag: str, date_attribute: str):
    """(file name, root element, published date) of a one-file XML list whose root element is
    `root_tag` (by local name) with its date in `date_attribute`."""
    if len(files) != 1:
        raise ListFileError(f"the {what} is one XML file")
    name, data = files[0]
    root = parse_xml(name, data)
    if local(root.tag) != root_tag:
        raise ListFileError(
            f"the root element is <{local(root.tag)}>, not <{root_tag}>", where=name
        )
    generated = root.get(date_attribute, "")
    try:
        published = date.fromisoformat(generated[:10]) if generated else None
    except ValueError:
        raise ListFileError(f"{date_attribute} {generated!r} is not a date", where=name) from None
    return name, root, published


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def text_of(element, path: str) -> str:
    found = element.find(path)
    return " ".join((found.text or "").split()) if found is not None else ""
