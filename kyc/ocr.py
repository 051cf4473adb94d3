"""OCR: the machine-readable zone of an identity document, and full-page text.

The MRZ is read with PP-OCR (PaddleOCR's text detection, orientation and recognition
networks, version 6 "small"), run on the CPU by ONNX Runtime through RapidOCR. The three
models ship inside the `rapidocr` wheel and are loaded from there by path: nothing is
downloaded at run time. Detection finds the text lines anywhere on a photo or scan (skewed,
small, compressed, in perspective, on a busy background) as quadrilaterals; only the lines
long and thin enough to be MRZ lines are straightened and recognised, not the rest of the
page. Upside-down lines are turned by the orientation network (and the line order
reversed); a photo taken sideways is turned a quarter when its text lines stand upright.
docs/kyc-ocr.md has the evaluation against Tesseract and the other engines considered.

Full-page text (a photographed proof of address) is read with Tesseract.
"""

import io
import itertools
import os
import threading
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image, ImageOps

from . import mrz

MIN_ASPECT = 8.0  # an MRZ line is at least ~8x as long as it is high (TD1: 30 characters)
MRZ_SHARE = 0.6  # MRZ lines are the longest on the page; shorter lines are not recognised
MAX_SIDE = 1600  # larger photos are scaled down first (MRZ characters stay > 20 px high)
DETECT_SIDE = 1024  # detection runs at this size on the longer side, up or down
THREADS = int(os.environ.get("KYC_OCR_THREADS", "1"))  # one per worker process
_engine = None
_engine_lock = threading.Lock()


def engine():
    """The RapidOCR engine with the models of the installed wheel, loaded once per process."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                import cv2
                import rapidocr

                cv2.setNumThreads(THREADS)

                models = Path(rapidocr.__file__).parent / "models"
                _engine = rapidocr.RapidOCR(
                    params={
                        "Global.log_level": "error",
                        "Det.limit_type": "max",
                        "Det.limit_side_len": DETECT_SIDE,
                        "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
                        "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
                        "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
                        "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    }
                )
    return _engine


def _box_size(box: np.ndarray) -> tuple[float, float]:
    """Width (along the text) and height of a detected quadrilateral."""
    width = (np.linalg.norm(box[0] - box[1]) + np.linalg.norm(box[3] - box[2])) / 2
    height = (np.linalg.norm(box[0] - box[3]) + np.linalg.norm(box[1] - box[2])) / 2
    return float(width), float(height)


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The quadrilateral straightened into a rectangle (perspective and skew undone)."""
    import cv2

    width, height = (max(1, round(v)) for v in _box_size(box))
    # Detection boxes hug the glyphs: keep a margin along the line's own axes.
    along = (box[1] - box[0]) / max(1.0, float(np.linalg.norm(box[1] - box[0])))
    across = (box[3] - box[0]) / max(1.0, float(np.linalg.norm(box[3] - box[0])))
    pad = height * 0.15
    padded = box + pad * np.array([-along - across, along - across, along + across, across - along])
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(padded.astype(np.float32), target)
    return cv2.warpPerspective(
        image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )


# The recogniser's alphabet holds Greek and Cyrillic capitals and symbols that look like the
# Latin letters of OCR-B (it reads `P` as Greek Rho, `X` as a multiplication sign).
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        **dict(zip("АВЕКМНОРСТУХ", "ABEKMHOPCTYX", strict=True)),
        "×": "X",
        "«": "<",
        "‹": "<",
        "(": "<",
        "[": "<",
        "{": "<",
    }
)


def _line_text(text: str) -> str:
    text = text.upper().replace(" ", "").translate(_LOOKALIKES)
    return "".join(c for c in text if c.isascii() and (c.isalnum() or c == mrz.FILLER))


def _detection_input(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo at DETECT_SIDE on its longer side (small scans scaled up, large photos
    down), and the factor applied."""
    import cv2

    factor = DETECT_SIDE / max(image.shape[:2])
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interpolation), factor


def mrz_crops(image: np.ndarray) -> tuple[list[np.ndarray], int]:
    """The straightened crops of the MRZ-like lines of an RGB array, top to bottom, and the
    number of upright (sideways) text lines detection found."""
    small, factor = _detection_input(image)
    detected = engine()(small, use_cls=False, use_rec=False)
    boxes = detected.boxes if detected.boxes is not None else []
    sizes = [_box_size(box) for box in boxes]
    upright = sum(1 for width, height in sizes if height > 2 * width)
    long_boxes = [
        (box, width)
        for box, (width, height) in zip(boxes, sizes, strict=True)
        if width >= MIN_ASPECT * height and height >= 6
    ]
    if not long_boxes:
        return [], upright
    longest = max(width for _box, width in long_boxes)
    # MRZ lines are the page's longest: a label line half as long is not recognised.
    kept = sorted(
        (box for box, width in long_boxes if width >= MRZ_SHARE * longest),
        key=lambda box: box[:, 1].mean(),
    )
    if factor > 1:  # a small scan: cut from the scaled-up copy
        return [_crop(small, box) for box in kept], upright
    return [_crop(image, box / factor) for box in kept], upright


def _binarised(crop: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    _threshold, black_white = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return cv2.cvtColor(black_white, cv2.COLOR_GRAY2RGB)


def _equalised(crop: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.equalizeHist(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


# The crops as found, then two second opinions (read only while no clean reading is found).
VIEWS = (None, _binarised, _equalised)


def _recognised(crops: list[np.ndarray]) -> list[str]:
    """One text per crop ("" where nothing was recognised)."""
    texts = (engine().recognize_txt(crops).txts or ()) if crops else ()
    texts = list(texts) + [""] * (len(crops) - len(texts))
    return [_line_text(text) for text in texts[: len(crops)]]


def _mrz_like(line: str) -> bool:
    """Long enough for an MRZ line, with a filler or exactly a format's length (a line
    whose optional data is full has no `<`)."""
    return len(line) >= 25 and (mrz.FILLER in line or len(line) in (30, 36, 44))


def _best(readings: list[list[str]], today) -> tuple[mrz.MrzResult | None, list[str]]:
    """The best parse over every choice of one reading per line (at most 3^lines)."""
    best, best_lines = None, []
    for choice in itertools.islice(itertools.product(*zip(*readings, strict=True)), 729):
        lines = [ln for ln in choice if _mrz_like(ln)]
        result = mrz.parse(lines, today=today)
        if result is not None and (best is None or result.rank() < best.rank()):
            best, best_lines = result, lines
    return best, best_lines


def _clean(result: mrz.MrzResult | None) -> bool:
    return result is not None and result.rank() == (False, 0, 0)


def _as_array(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image).convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(image)


def read_mrz(image: Image.Image, today=None) -> tuple[mrz.MrzResult | None, str]:
    """Find and parse the MRZ: the best reading (check digits first), and the lines read.

    The line crops are read as found; while no reading is clean (every check digit holding,
    every character in its field's set) they are read again binarised and with equalised
    contrast, each line's readings combined with the others'. Still no valid MRZ: the
    crops are read turned half a turn in reverse order (an upside-down photo). A photo
    whose text lines stand upright (taken sideways) is turned a quarter first."""
    array = _as_array(image)
    crops, upright = mrz_crops(array)
    if upright > len(crops):
        for k in (1, 3):
            turned, _ = mrz_crops(np.ascontiguousarray(np.rot90(array, k)))
            if len(turned) >= 2:
                crops = turned
                break
    best, text = None, ""
    for upside_down in (False, True):
        if upside_down:
            if best is not None and best.valid:
                break
            crops = [np.ascontiguousarray(np.rot90(crop, 2)) for crop in reversed(crops)]
        readings = []
        for view in VIEWS:
            readings.append(_recognised(crops if view is None else [view(c) for c in crops]))
            result, lines = _best(readings, today)
            text = text or "\n".join(readings[0])
            if result is not None and (best is None or result.rank() < best.rank()):
                best, text = result, "\n".join(lines)
            if _clean(best):
                return best, text
    return best, text


def read_text(image: Image.Image) -> str:
    gray = ImageOps.autocontrast(ImageOps.grayscale(image))
    return pytesseract.image_to_string(gray, config="--oem 1 --psm 4")


def load(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
