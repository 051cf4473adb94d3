"""Uploaded documents are checked before anything is stored.

Whatever the file name says, the bytes decide: python-magic sniffs the type (JPEG, PNG and
PDF only); images are fully decoded by Pillow under a decompression-bomb limit; PDFs are
opened by pypdf, page-limited, and refused if they carry JavaScript, launch actions or
embedded files. The name is reduced to a safe base name; the SHA-256 is recorded.
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
from PIL import Image, ImageFile

from brokerage.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 10
ALLOWED = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA")


@dataclass
class CheckedUpload:
    data: bytes
    content_type: str
    extension: str
    original_name: str
    sha256: str
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


def _check_image(data: bytes) -> tuple[int, int]:
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
        except InvalidInput:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            _refuse("The image is too large to process.")
        except Exception:  # noqa: BLE001  (any decoder failure: the file is damaged)
            _refuse("The image is damaged or incomplete; please take the photo again.")
    return width, height


def _check_pdf(data: bytes) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if any(token in data for token in PDF_ACTIVE):
        _refuse("PDFs with scripts, actions or attachments are not accepted.")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _refuse("Password-protected PDFs are not accepted.")
        pages = len(reader.pages)
        root = reader.trailer["/Root"]
        names = root.get("/Names") or {}
        if (
            any(key in root for key in ("/OpenAction", "/AA", "/AcroForm"))
            or any(key in names for key in ("/JavaScript", "/EmbeddedFiles"))
            or any("/AA" in page for page in reader.pages)
        ):
            _refuse("PDFs with scripts, actions or attachments are not accepted.")
    except InvalidInput:
        raise
    except (PdfReadError, KeyError, ValueError, TypeError, OSError):
        _refuse("The PDF is damaged or incomplete.")
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
        checked.width, checked.height = _check_image(data)
    return checked
