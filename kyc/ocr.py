"""OCR with Tesseract: the MRZ band of an identity document, and full-page text."""

import io

import pytesseract
from PIL import Image, ImageOps

from . import mrz

MRZ_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
MRZ_CONFIG = f"--oem 1 --psm 6 -c tessedit_char_whitelist={MRZ_CHARS}"


def _gray(image: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(ImageOps.grayscale(image))


def _ocr(region: Image.Image, width: int) -> str:
    region = _gray(region)
    if region.width != width:
        region = region.resize((width, max(1, int(region.height * width / region.width))))
    return pytesseract.image_to_string(region, config=MRZ_CONFIG)


def read_mrz(image: Image.Image, today=None) -> tuple[mrz.MrzResult | None, str]:
    """Find and parse the MRZ. The bottom band first (where ICAO puts it), read at two
    scales; a reading whose check digits all hold wins. Then the whole page."""
    width, height = image.size
    band = image.crop((0, int(height * 0.68), width, height))
    best, text = None, ""
    for region, scale in ((band, 1.0), (band, 0.5), (band, 0.75), (image, 1.0)):
        text = _ocr(region, max(400, int(min(width, 1600) * scale)))
        result = mrz.parse(mrz.clean_lines(text), today=today)
        if result is not None and result.valid:
            return result, text
        if result is not None and (
            best is None or len(result.failed_checks) < len(best.failed_checks)
        ):
            best = result
    return best, text


def read_text(image: Image.Image) -> str:
    return pytesseract.image_to_string(_gray(image), config="--oem 1 --psm 4")


def load(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
