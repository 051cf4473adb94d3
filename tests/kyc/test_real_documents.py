"""Real photos and scans (tests/kyc/data/real, PassportEye's samples, MIT) and generated
documents photographed badly: the MRZ reader must read them, with the models of the wheel."""

from datetime import date
from pathlib import Path

import pytest

from kyc import ocr, specimens

REAL = Path(__file__).parent / "data" / "real"
FILES = sorted(p.name for p in REAL.iterdir() if p.suffix in {".jpg", ".png"})
SPECIMEN = {
    "surname": "ERIKSSON",
    "given_names": "ANNA MARIA",
    "nationality": "UTO",
    "issuing_country": "UTO",
    "birth_date": date(1974, 8, 12),
    "expiry_date": date(2012, 4, 15),
    "sex": "F",
}
KNOWN = {
    "passport-td3.png": {**SPECIMEN, "format": "TD3", "document_number": "L898902C3"},
    "100_pass-uto.jpg": {**SPECIMEN, "format": "TD3", "document_number": "L898902C3"},
    "passport-td2.png": {**SPECIMEN, "format": "TD2", "document_number": "D23145890"},
}
FORMATS = {"100_id-che.jpg": "TD1", "100_id-rou.jpg": "TD2", "passport-td2.png": "TD2"}


def read(name):
    return ocr.read_mrz(ocr.load((REAL / name).read_bytes()), today=date(2026, 1, 1))


def test_the_samples_are_all_there():
    assert len(FILES) == 9 and (REAL / "LICENSE").exists()


@pytest.mark.parametrize("name", FILES)
def test_every_real_file_reads_as_a_valid_mrz(name):
    result, text = read(name)
    assert result is not None and result.valid, (result and result.failed_checks, text)
    assert result.format == FORMATS.get(name, "TD3")
    for key, value in KNOWN.get(name, {}).items():
        assert getattr(result, key) == value, key


def test_a_sample_with_digits_for_its_nationality_is_read_and_says_so():
    result, _ = read("100_id-rou.jpg")
    assert result.document_number == "HD198025" and result.surname == "SAVA"
    assert result.nationality == "132" and result.problems


@pytest.mark.parametrize("variant", list(specimens.ROBUSTNESS))
def test_generated_documents_photographed_badly_are_read(variant):
    """One passport per distortion at this scale; bench/kyc_read.py runs the full set."""
    for name, person, _card, data in specimens.robustness_set(1):
        if name != variant:
            continue
        result, text = ocr.read_mrz(ocr.load(data))
        assert result is not None and result.valid, text
        assert result.document_number == person.number and result.surname == person.surname
        assert (result.birth_date, result.expiry_date) == (person.birth, person.expiry)
        assert result.nationality == person.nationality


def test_a_photo_taken_sideways_is_turned():
    from PIL import Image

    image = ocr.load(specimens.passport(specimens.Person())).transpose(Image.Transpose.ROTATE_90)
    result, text = ocr.read_mrz(image)
    assert result is not None and result.valid, text
    assert result.document_number == specimens.Person().number


def test_the_models_come_from_the_wheel_and_nothing_is_downloaded(monkeypatch):
    from rapidocr.utils import download_file

    def no_network(*args, **kwargs):
        raise AssertionError("the OCR engine tried to download a file")

    monkeypatch.setattr(download_file.DownloadFile, "run", no_network)
    monkeypatch.setattr(ocr, "_engine", None)
    result, _ = read("passport-td3.png")
    assert result.document_number == "L898902C3"
