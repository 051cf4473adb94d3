"""Uploaded documents are checked before anything is stored.

Whatever the file name says, the bytes decide: python-magic sniffs the type (JPEG, PNG and
PDF only); images are fully decoded by Pillow under a decompression-bomb limit and stored
re-encoded (upright, without metadata or anything appended: what is stored is what Pillow
wrote), while the SHA-256 recorded is the original file's, so the same photo uploaded twice is
still found as a duplicate; PDFs are
opened by pypdf, page-limited, and refused if they carry JavaScript, actions that launch,
send or import, embedded files or media, or forms: every object the file declares is walked
and names are compared as PDF defines them (`/J#61vaScript` is `/JavaScript`).
The name is reduced to a safe base name.
"""

import hashlib
import io
import os
import re
import threading
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import magic
from PIL import Image, ImageFile, ImageOps
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from brokerage.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 10
ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@dataclass
class CheckedUpload:
    data: bytes  # what is stored: a photo re-encoded, a PDF as uploaded
    content_type: str
    extension: str
    original_name: str
    sha256: str  # of the file as uploaded
    width: int | None = None
    height: int | None = None
    pages: int | None = None


def _refuse(message: str):
    raise InvalidInput(message, code="invalid_file", fields={"file": [message]})


def safe_name(name: str) -> str:
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/")
    name = os.path.basename(name)
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[:120] or "document"


_decoding_lock = threading.Lock()


@contextmanager
def _strict_decoding():
    """Decode with truncated images refused (other libraries, WeasyPrint among them, switch
    Pillow's process-wide LOAD_TRUNCATED_IMAGES on)."""
    with _decoding_lock:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


JPEG_QUALITY = 92


def _reencode(image: Image.Image, fmt: str) -> bytes:
    """The picture alone, as Pillow writes it: turned upright as its EXIF orientation says,
    then saved without EXIF, ICC, XMP, comments or anything the original carried after its
    image data (a ZIP appended to a JPEG, a script in a PNG text chunk)."""
    image = ImageOps.exif_transpose(image)
    # Pillow carries some of `info` (a JPEG comment, an ICC profile) into what it writes:
    # keep only PNG transparency, which is part of the picture.
    transparency = image.info.get("transparency") if fmt == "PNG" else None
    image.info = {} if transparency is None else {"transparency": transparency}
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=False)
    return out.getvalue()


def _check_image(data: bytes, fmt: str) -> tuple[bytes, int, int]:
    """Decode the whole image (refusing bombs and damaged files) and re-encode it: what is
    stored is what Pillow wrote."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    _refuse(f"The image is too large ({width}x{height} pixels).")
                probe.verify()
            with _strict_decoding(), Image.open(io.BytesIO(data)) as image:
                image.load()  # a truncated file fails here
                stored = _reencode(image, fmt)
        except InvalidInput:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            _refuse("The image is too large to process.")
        except Exception:  # noqa: BLE001  (any decoder failure: the file is damaged)
            _refuse("The image is damaged or incomplete; please take the photo again.")
    with Image.open(io.BytesIO(stored)) as written:
        width, height = written.size
    return stored, width, height


# What a PDF may not carry, by the name PDF gives it once `#xx` escapes are decoded
# (ISO 32000-1 §7.3.5: `/J#61vaScript` *is* `/JavaScript`). Each maps to the reason the
# uploader reads.
PDF_ACTIVE_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/EmbeddedFiles": "attached files",
    "/EmbeddedFile": "attached files",
    "/EF": "attached files",
    "/RichMedia": "embedded media",
    "/RichMediaContent": "embedded media",
    "/XFA": "an interactive (XFA) form",
    "/AcroForm": "a fillable form",
}
# Action types (the /S of an action dictionary) and annotation subtypes that run or fetch
# something; a plain link (/URI, /GoTo) is allowed.
PDF_ACTIVE_VALUES = {
    "/JavaScript": "JavaScript",
    "/Launch": "an action that launches a program",
    "/SubmitForm": "an action that sends data out",
    "/ImportData": "an action that imports data",
    "/GoToR": "a link that opens another file",
    "/GoToE": "a link that opens an attached file",
    "/RichMediaExecute": "embedded media",
    "/Rendition": "embedded media",
    "/Movie": "embedded media",
    "/Sound": "embedded media",
    "/Screen": "embedded media",
    "/FileAttachment": "attached files",
}
MAX_PDF_OBJECTS = 100_000
_RAW_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _raw_names(data: bytes):
    """Every name token written in the file's bytes, `#xx` escapes decoded: what a viewer
    that reads the file without its cross-reference table would see."""
    for match in _RAW_NAME.finditer(data):
        raw = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        yield "/" + raw.decode("latin-1")


def _pdf_objects(reader):
    """Every object the file declares (its cross-reference table, object streams included)
    and every object reachable from the trailer, each once."""
    seen: set[tuple[int, int]] = set()
    stack = [reader.trailer]
    refs = [(num, gen) for gen, table in reader.xref.items() for num in table]
    refs += [(num, 0) for num in reader.xref_objStm]
    stack += [IndirectObject(num, gen, reader) for num, gen in refs]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_PDF_OBJECTS:
                _refuse("The PDF is too complex to check.")
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            yield item
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)


def _pdf_active_content(reader, data: bytes) -> str | None:
    """What active content the PDF carries, in words, or None. An opening action or an
    additional action (/OpenAction, /AA) is refused by what it does (its /S), so a document
    that opens on its first page still passes."""
    for name in _raw_names(_STREAM.sub(b"stream endstream", data)):
        if name in PDF_ACTIVE_KEYS:
            return PDF_ACTIVE_KEYS[name]
        if name in PDF_ACTIVE_VALUES:
            return PDF_ACTIVE_VALUES[name]
    for obj in _pdf_objects(reader):
        for key, value in obj.items():
            if key in PDF_ACTIVE_KEYS:
                return PDF_ACTIVE_KEYS[key]
            if (
                key in ("/S", "/Subtype")
                and isinstance(value, NameObject)
                and value in PDF_ACTIVE_VALUES
            ):
                return PDF_ACTIVE_VALUES[value]
    return None


def _check_pdf(data: bytes) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _refuse("Password-protected PDFs are not accepted.")
        pages = len(reader.pages)
        active = _pdf_active_content(reader, data)
    except InvalidInput:
        raise
    except (PdfReadError, KeyError, ValueError, TypeError, OSError, RecursionError):
        _refuse("The PDF is damaged or incomplete.")
    if active:
        _refuse(
            f"This PDF carries {active}, which is not accepted: please upload a plain PDF "
            "(print it to PDF or scan it) or a photo."
        )
    if pages == 0:
        _refuse("The PDF has no pages.")
    if pages > MAX_PDF_PAGES:
        _refuse(f"PDFs are at most {MAX_PDF_PAGES} pages.")
    return pages


def check_upload(uploaded_file) -> CheckedUpload:
    """Validate an uploaded file (Django UploadedFile or any object with .size/.read/.name)."""
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > MAX_BYTES:
        _refuse(f"Files are at most {MAX_BYTES // (1024 * 1024)} MB.")
    data = uploaded_file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        _refuse(f"Files are at most {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        _refuse("The file is empty.")
    content_type = magic.from_buffer(data[:8192], mime=True)
    if content_type not in ALLOWED:
        _refuse(
            f"Only JPEG or PNG photos and PDF documents are accepted (this file is {content_type})."
        )
    checked = CheckedUpload(
        data,
        content_type,
        ALLOWED[content_type],
        safe_name(getattr(uploaded_file, "name", "")),
        hashlib.sha256(data).hexdigest(),
    )
    if content_type == "application/pdf":
        checked.pages = _check_pdf(data)
    else:
        fmt = "JPEG" if content_type == "image/jpeg" else "PNG"
        checked.data, checked.width, checked.height = _check_image(data, fmt)
    return checked


INLINE_TYPES = frozenset({"image/jpeg", "image/png"})
# Nothing in a served document may run, load or frame anything, whatever a browser makes of it.
DOCUMENT_CSP = "default-src 'none'; img-src 'self'; sandbox"


def stored_document_response(stored_file, *, content_type: str, filename: str):
    """An uploaded document served back to the people allowed to read it.

    Photos (which the upload re-encoded) are shown inline; anything else, PDFs included, is a
    download (`Content-Disposition: attachment`), never opened in the browser's viewer. Every
    answer is private, unsniffable and under a CSP that allows nothing to run.
    """
    from django.http import FileResponse

    response = FileResponse(
        stored_file.open("rb"),
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=safe_name(filename),
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOCUMENT_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
