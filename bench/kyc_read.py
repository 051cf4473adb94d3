"""How well and how fast the MRZ reader reads real scans and distorted generated documents.

    .venv/bin/python bench/kyc_read.py                      # 10 documents per distortion
    .venv/bin/python bench/kyc_read.py --count 4 --engine tesseract

The real files are the PassportEye samples in tests/kyc/data/real (see its README); a read
counts when every check digit holds, and for the ICAO specimens when the known values are
exact. The robustness set is made by `kyc.specimens.robustness_set`: passports and ID cards
rotated up to 10 degrees, at half size, as JPEG quality 40, on a busy background, photographed
at an angle, upside down, and all of these at once; a read counts when the document number,
dates of birth and expiry, nationality and surname are exact. `--engine tesseract` runs the
previous reader (Tesseract's English model on bands of the page) on the same images, as the
baseline. Prints one JSON line.
"""

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kyc import mrz, ocr, specimens  # noqa: E402

REAL = ROOT / "tests" / "kyc" / "data" / "real"
ICAO_TD3 = {"document_number": "L898902C3", "surname": "ERIKSSON", "given_names": "ANNA MARIA"}
KNOWN = {
    "passport-td3.png": ICAO_TD3,
    "100_pass-uto.jpg": ICAO_TD3,
    "passport-td2.png": {
        "document_number": "D23145890",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
    },
}
SPECIMEN_DATES = {"birth_date": date(1974, 8, 12), "expiry_date": date(2012, 4, 15)}


def tesseract_read(image, today=None):
    """The previous reader: Tesseract's English model on the bottom band, then the page."""
    import pytesseract
    from PIL import ImageOps

    config = "--oem 1 --psm 6 -c tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
    width, height = image.size
    band = image.crop((0, int(height * 0.68), width, height))
    best, text = None, ""
    for region, scale in ((band, 1.0), (band, 0.5), (band, 0.75), (image, 1.0)):
        gray = ImageOps.autocontrast(ImageOps.grayscale(region))
        target = max(400, int(min(width, 1600) * scale))
        gray = gray.resize((target, max(1, int(gray.height * target / gray.width))))
        text = pytesseract.image_to_string(gray, config=config)
        result = mrz.parse(mrz.clean_lines(text), today=today)
        if result is not None and (best is None or result.rank() < best.rank()):
            best = result
        if best is not None and best.valid:
            break
    return best, text


def real_files(read):
    rows = []
    for path in sorted(p for p in REAL.iterdir() if p.suffix in {".jpg", ".png"}):
        started = time.perf_counter()
        result, _text = read(ocr.load(path.read_bytes()), today=date(2026, 1, 1))
        seconds = time.perf_counter() - started
        ok = result is not None and result.valid
        if ok and path.name in KNOWN:
            expected = {**KNOWN[path.name], **SPECIMEN_DATES, "nationality": "UTO"}
            ok = all(getattr(result, k) == v for k, v in expected.items())
        rows.append({"file": path.name, "read": ok, "seconds": round(seconds, 2)})
    return rows


def robustness(read, count):
    per_variant, times = {}, []
    for variant, person, _card, data in specimens.robustness_set(count):
        started = time.perf_counter()
        result, _text = read(ocr.load(data))
        times.append(time.perf_counter() - started)
        ok = (
            result is not None
            and result.valid
            and result.document_number == person.number
            and result.birth_date == person.birth
            and result.expiry_date == person.expiry
            and result.nationality == person.nationality
            and result.surname == person.surname
        )
        per_variant.setdefault(variant, []).append(ok)
    return per_variant, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="documents per distortion")
    parser.add_argument("--engine", choices=["ppocr", "tesseract"], default="ppocr")
    args = parser.parse_args()
    read = ocr.read_mrz if args.engine == "ppocr" else tesseract_read
    if args.engine == "ppocr":
        ocr.engine()  # loaded once per worker process, not counted per image
    real = real_files(read)
    per_variant, times = robustness(read, args.count)
    total = [ok for oks in per_variant.values() for ok in oks]
    print(
        json.dumps(
            {
                "bench": "kyc_read",
                "engine": args.engine,
                "real_read": sum(r["read"] for r in real),
                "real_files": len(real),
                "real_missed": [r["file"] for r in real if not r["read"]],
                "real_p50_s": round(statistics.median(r["seconds"] for r in real), 2),
                "robustness_read_pct": round(100 * sum(total) / len(total), 1),
                "robustness_documents": len(total),
                "robustness_by_variant_pct": {
                    k: round(100 * sum(v) / len(v)) for k, v in per_variant.items()
                },
                "robustness_p50_s": round(statistics.median(times), 2),
                "robustness_p95_s": round(sorted(times)[int(0.95 * (len(times) - 1))], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
