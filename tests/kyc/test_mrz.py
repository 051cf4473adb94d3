from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from kyc import mrz

# ICAO Doc 9303 part 4, the specimen passport of Utopia (Anna Maria Eriksson).
ICAO_TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
# ICAO Doc 9303 part 5, the specimen TD1 card.
ICAO_TD1 = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]


def test_icao_check_digit_examples():
    assert mrz.check_digit("L898902C3") == "6"
    assert mrz.check_digit("740812") == "2"
    assert mrz.check_digit("120415") == "9"


def test_parses_the_icao_passport_specimen():
    result = mrz.parse(ICAO_TD3, today=date(2010, 1, 1))
    assert result.valid and result.format == "TD3"
    assert (result.surname, result.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert result.document_number == "L898902C3" and result.nationality == "UTO"
    assert result.birth_date == date(1974, 8, 12) and result.expiry_date == date(2012, 4, 15)
    assert result.sex == "F"


def test_parses_the_icao_card_specimen():
    result = mrz.parse(ICAO_TD1, today=date(2010, 1, 1))
    assert result.valid and result.format == "TD1"
    assert result.document_number == "D23145890" and result.surname == "ERIKSSON"


def test_a_tampered_digit_is_named():
    line2 = ICAO_TD3[1][:13] + "740813" + ICAO_TD3[1][19:]  # birth date changed, digit not
    result = mrz.parse([ICAO_TD3[0], line2], today=date(2010, 1, 1))
    assert not result.valid
    assert "date of birth" in result.failed_checks and "composite" in result.failed_checks


def test_ocr_confusions_are_repaired():
    noisy = (
        "P<UTOERIKSSON<<ANNA<MARIAK<<<<<<<<<<<<<<«<<<\nL898902C36UTO74O8122F12O4159ZE184226B<<<<<1O"
    )
    result = mrz.parse(mrz.clean_lines(noisy), today=date(2010, 1, 1))
    assert result.valid and result.given_names == "ANNA MARIA"


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12)


@given(
    surname=names,
    given_name=names,
    number=st.text(alphabet="0123456789ABCDEFGHJKLMNPRSTUVWXYZ", min_size=6, max_size=9),
    birth=st.dates(date(1930, 1, 1), date(2008, 12, 31)),
    expiry=st.dates(date(2026, 1, 1), date(2069, 12, 31)),
    sex=st.sampled_from("MF<"),
    card=st.booleans(),
)
def test_written_mrz_parses_back(surname, given_name, number, birth, expiry, sex, card):
    make = mrz.make_td1 if card else mrz.make_td3
    lines = make(
        surname=surname,
        given_names=given_name,
        number=number,
        nationality="GBR",
        birth=birth,
        sex=sex,
        expiry=expiry,
    )
    result = mrz.parse(lines, today=date(2026, 11, 24))
    assert result.valid, result.failed_checks
    assert result.surname == surname and result.birth_date == birth
    assert result.expiry_date == expiry and result.document_number == number


def test_an_empty_personal_number_read_with_the_wrong_filler_count_is_rebuilt():
    lines = mrz.make_td3(
        surname="HARRIS",
        given_names="OLIVIA",
        number="533401872",
        nationality="GBR",
        birth=date(1988, 3, 14),
        sex="F",
        expiry=date(2031, 11, 23),
    )
    for noisy in (
        lines[1][:28] + "<" * 12 + lines[1][-1],
        lines[1][:28] + "<<<<K<<<<<<<<<<<" + lines[1][-1],
    ):
        result = mrz.parse([lines[0], noisy], today=date(2026, 11, 24))
        assert result.valid, result.failed_checks


def test_an_empty_td1_optional_field_read_with_extra_fillers_keeps_its_composite_digit():
    # As Tesseract read an ID card on 2026-11-25: five `K<` pairs for the 11 fillers of line 2.
    text = (
        "I<AREP4471920<6<<<K<<<<KK<<K<\n"
        "7911026M3111242ARE<<<<<<K<K<K<K<K<2\n"
        "AL<FALASI<<HAMDANK<<<<<<<<<<<<K<\n"
    )
    result = mrz.parse(mrz.clean_lines(text), today=date(2026, 11, 25))
    assert result is not None and result.valid, result and result.failed_checks
    assert result.document_number == "P4471920" and result.expiry_date == date(2031, 11, 24)
