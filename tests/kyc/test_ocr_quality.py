"""Reading generated specimens the way uploads are read (Tesseract, OCR-B MRZ)."""

from datetime import date, timedelta

import pytest
from PIL import Image

from kyc import ocr, quality, specimens

PEOPLE = [
    specimens.Person(),
    specimens.Person(
        surname="AL FALASI",
        given_names="HAMDAN",
        nationality="ARE",
        birth=date(1979, 11, 2),
        sex="M",
        number="P4471920",
    ),
    specimens.Person(
        surname="GARCIA LOPEZ",
        given_names="MARIA JOSE",
        nationality="ESP",
        birth=date(1995, 6, 30),
        number="XDA123456",
    ),
]


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p.surname)
@pytest.mark.parametrize("card", [False, True], ids=["passport", "id-card"])
def test_clean_specimens_are_read_with_valid_check_digits(person, card):
    result, text = ocr.read_mrz(ocr.load(specimens.passport(person, card=card)))
    assert result is not None and result.valid, text
    assert result.document_number == person.number
    assert result.birth_date == person.birth and result.expiry_date == person.expiry
    assert result.nationality == person.nationality


def test_a_tampered_check_digit_is_caught():
    result, _ = ocr.read_mrz(ocr.load(specimens.passport(PEOPLE[0], tamper_check_digit=True)))
    assert result is not None and "date of birth" in result.failed_checks


def test_an_expired_document_reads_its_expiry():
    person = specimens.Person(expiry=date.today() - timedelta(days=40))
    result, _ = ocr.read_mrz(ocr.load(specimens.passport(person)))
    assert result.valid and result.expiry_date < date.today()


def test_blur_is_measured():
    sharp = quality.measure(ocr.load(specimens.passport(PEOPLE[0])))
    blurred = quality.measure(ocr.load(specimens.passport(PEOPLE[0], blur=3)))
    assert sharp.problems == []
    assert blurred.sharpness < quality.MIN_SHARPNESS < sharp.sharpness
    assert any("blurry" in p for p in blurred.problems)


def test_small_and_dark_images_are_flagged():
    tiny = quality.measure(Image.new("RGB", (400, 300), (20, 20, 20)))
    assert any("resolution" in p for p in tiny.problems)
    assert any("too dark" in p for p in tiny.problems)


def test_a_washed_out_photo_is_flagged():
    from PIL import ImageEnhance

    image = ocr.load(specimens.passport(PEOPLE[0]))
    washed = ImageEnhance.Brightness(image).enhance(2.5)
    assert any("over-exposed" in p for p in quality.measure(washed).problems)
