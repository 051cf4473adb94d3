"""Synthetic identity documents and proofs of address, for tests, benchmarks and the demo.

Passports (TD3) and ID cards (TD1) are drawn with Pillow, the MRZ set in OCR-B (Debian's
fonts-ocr-b) as on real documents. Defects on demand: blurred, expired, a tampered check
digit; a name mismatch is simply a document for someone other than the registration.
"""

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import mrz

OCRB = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SANS_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@dataclass
class Person:
    surname: str = "HARRIS"
    given_names: str = "OLIVIA MAY"
    nationality: str = "GBR"
    birth: date = date(1988, 3, 14)
    sex: str = "F"
    number: str = "533401872"
    expiry: date = field(default_factory=lambda: date.today() + timedelta(days=5 * 365))
    address: str = "14 Harbour Street, Bristol BS1 4DJ, United Kingdom"


def _font(path: Path, size: int):
    return ImageFont.truetype(str(path), size)


def _background(size, seed) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311
    img = Image.new("RGB", size, (236, 240, 233))
    draw = ImageDraw.Draw(img)
    for _ in range(40):  # guilloche-like faint curves
        x0, y0 = rng.randint(0, size[0]), rng.randint(0, size[1])
        r = rng.randint(80, 400)
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], outline=(214, 224, 214), width=2)
    return img


def passport(
    person: Person,
    *,
    blur: float = 0.0,
    tamper_check_digit: bool = False,
    card: bool = False,
    size=(1500, 1000),
    seed: int = 1,
) -> bytes:
    """A JPEG of the document's data page."""
    img = _background(size, seed)
    draw = ImageDraw.Draw(img)
    w, h = size
    title = "IDENTITY CARD" if card else "PASSPORT"
    draw.text(
        (60, 40), f"{title} · {person.nationality}", font=_font(SANS_BOLD, 44), fill=(30, 50, 90)
    )
    draw.rectangle([60, 130, 400, 560], fill=(200, 205, 215), outline=(120, 130, 150), width=3)
    draw.text((150, 320), "PHOTO", font=_font(SANS_BOLD, 40), fill=(130, 140, 160))
    label, value = _font(SANS, 22), _font(SANS_BOLD, 34)
    rows = [
        ("Surname", person.surname),
        ("Given names", person.given_names),
        ("Nationality", person.nationality),
        ("Date of birth", f"{person.birth:%d %b %Y}"),
        ("Sex", person.sex),
        ("Document no.", person.number),
        ("Date of expiry", f"{person.expiry:%d %b %Y}"),
    ]
    y = 130
    for name, text in rows:
        draw.text((460, y), name, font=label, fill=(90, 100, 110))
        draw.text((460, y + 26), text, font=value, fill=(20, 20, 30))
        y += 74
    make = mrz.make_td1 if card else mrz.make_td3
    lines = make(
        surname=person.surname,
        given_names=person.given_names,
        number=person.number,
        nationality=person.nationality,
        birth=person.birth,
        sex=person.sex,
        expiry=person.expiry,
    )
    if tamper_check_digit:  # the day of birth changed in the MRZ, its check digit kept
        pos = 0 if card else 13  # the date of birth in line 2 (TD1) / line 2 (TD3)
        line = lines[1]
        digit = str((int(line[pos + 5]) + 1) % 10)
        lines[1] = line[: pos + 5] + digit + line[pos + 6 :]
    probe = _font(OCRB, 100)
    font_size = int(100 * (w - 120) / probe.getlength(lines[0]))
    mrz_font = _font(OCRB, font_size)
    line_h = int(font_size * 1.35)
    top = h - 60 - line_h * len(lines)
    draw.rectangle([0, top - 30, w, h], fill=(250, 250, 248))
    for i, line in enumerate(lines):
        draw.text((60, top + i * line_h), line, font=mrz_font, fill=(10, 10, 10))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def proof_of_address_pdf(person: Person, *, issued: date | None = None) -> bytes:
    """A utility bill as a PDF with a text layer (WeasyPrint)."""
    from weasyprint import HTML

    issued = issued or date.today() - timedelta(days=12)
    name = f"{person.given_names.title()} {person.surname.title()}"
    html = f"""<html><body style="font-family: DejaVu Sans; font-size: 12pt">
    <h1>Bristol Energy</h1><p>Electricity bill</p>
    <p><b>{name}</b><br>{person.address}</p>
    <p>Statement date: {issued:%d %B %Y}</p>
    <p>Account {person.number} · Amount due GBP 84.20</p></body></html>"""
    return HTML(string=html).write_pdf()


def proof_of_address_image(
    person: Person, *, issued: date | None = None, size=(1240, 1754)
) -> bytes:
    """The same bill as a photographed page (JPEG, no text layer: read by OCR)."""
    issued = issued or date.today() - timedelta(days=12)
    img = Image.new("RGB", size, (252, 252, 250))
    draw = ImageDraw.Draw(img)
    big, body = _font(SANS_BOLD, 56), _font(SANS, 36)
    name = f"{person.given_names.title()} {person.surname.title()}"
    y = 120
    for text, font in [
        ("Bristol Energy", big),
        ("Electricity bill", body),
        ("", body),
        (name, body),
        *[(part.strip(), body) for part in person.address.split(",")],
        ("", body),
        (f"Statement date: {issued:%d %B %Y}", body),
        ("Amount due GBP 84.20", body),
    ]:
        draw.text((120, y), text, font=font, fill=(20, 20, 20))
        y += 70
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def photographed(
    data: bytes,
    *,
    rotate: float = 0.0,
    scale: float = 1.0,
    quality: int = 90,
    background: bool = False,
    perspective: float = 0.0,
    upside_down: bool = False,
    seed: int = 1,
) -> bytes:
    """A document image as a client's phone or scanner delivers it: turned by `rotate`
    degrees, scaled, laid on a busy desk (`background`), photographed at an angle (one side
    `perspective` of the width nearer than the other), saved as a JPEG of `quality`."""
    rng = random.Random(seed)  # noqa: S311
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if upside_down:
        img = img.rotate(180)
    if background:
        w, h = img.size
        desk = Image.new("RGB", (int(w * 1.5), int(h * 1.6)), (120, 96, 70))
        draw = ImageDraw.Draw(desk)
        for _ in range(60):  # papers, pens, printed text around the document
            x, y = rng.randint(0, desk.width), rng.randint(0, desk.height)
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            if rng.random() < 0.5:
                draw.rectangle([x, y, x + rng.randint(40, 500), y + rng.randint(20, 300)], colour)
            else:
                draw.text((x, y), "INVOICE 2024 TOTAL DUE", font=_font(SANS, 28), fill=colour)
        desk.paste(img, ((desk.width - w) // 2, (desk.height - h) // 2))
        img = desk
    if perspective:
        w, h = img.size
        inset = perspective * h / 2  # the far (right) edge shorter than the near one
        corners = [(0, 0), (w, inset), (w, h - inset), (0, h)]
        img = img.transform(
            img.size,
            Image.Transform.PERSPECTIVE,
            _perspective_coefficients(corners, [(0, 0), (w, 0), (w, h), (0, h)]),
            Image.Resampling.BICUBIC,
            fillcolor=(90, 90, 90),
        )
    if rotate:
        img = img.rotate(
            rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(90, 90, 90)
        )
    if scale != 1.0:
        img = img.resize(
            (int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS
        )
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _perspective_coefficients(target, source) -> list[float]:
    """Pillow's perspective coefficients that map the output corners `target` to `source`."""
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    import numpy as np

    return list(np.linalg.solve(np.array(rows, float), np.array(values, float)))


ROBUSTNESS = {
    "rotated": lambda i: {"rotate": (-10, -6, -3, 3, 6, 10)[i % 6]},
    "half_size": lambda i: {"scale": 0.5},
    "jpeg_40": lambda i: {"quality": 40},
    "busy_background": lambda i: {"background": True},
    "perspective": lambda i: {"perspective": (0.08, 0.12, 0.15)[i % 3]},
    "upside_down": lambda i: {"upside_down": True},
    "all_at_once": lambda i: {
        "rotate": (-8, 5, 8)[i % 3],
        "scale": 0.6,
        "quality": 50,
        "background": True,
        "perspective": 0.08,
    },
}


def robustness_set(count: int):
    """(variant, person, card, image bytes) for `count` generated documents in each
    distortion of ROBUSTNESS: passports and ID cards in turn, varied people."""
    rng = random.Random(count)  # noqa: S311
    surnames = ["HARRIS", "AL FALASI", "GARCIA LOPEZ", "OKONKWO", "NGUYEN", "SCHMIDT", "O BRIEN"]
    given = ["OLIVIA MAY", "HAMDAN", "MARIA JOSE", "CHIDI", "THI LAN", "JONAS", "SEAN PATRICK"]
    codes = ["GBR", "ARE", "ESP", "NGA", "VNM", "D", "IRL"]
    for variant, kwargs in ROBUSTNESS.items():
        for i in range(count):
            k = rng.randrange(len(surnames))
            person = Person(
                surname=surnames[k],
                given_names=given[k],
                nationality=codes[k],
                birth=date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)),
                sex=rng.choice("MF"),
                number="".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(9)),
            )
            card = i % 2 == 1
            data = passport(person, card=card, seed=i)
            yield variant, person, card, photographed(data, seed=i, **kwargs(i))
