from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyc import icao, mrz

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


# ICAO Doc 9303 part 6, the specimen TD2 document.
ICAO_TD2 = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
]


def test_icao_check_digit_examples():
    assert mrz.check_digit("L898902C3") == "6"
    assert mrz.check_digit("740812") == "2"
    assert mrz.check_digit("120415") == "9"


@pytest.mark.parametrize(
    ("lines", "fmt", "number"), [(ICAO_TD3, "TD3", "L898902C3"), (ICAO_TD2, "TD2", "D23145890")]
)
def test_parses_the_icao_passport_and_td2_specimens(lines, fmt, number):
    result = mrz.parse(lines, today=date(2010, 1, 1))
    assert result.valid and result.format == fmt
    assert (result.surname, result.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert result.document_number == number and result.nationality == "UTO"
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


def td3(**fields):
    values = {
        "surname": "HARRIS",
        "given_names": "OLIVIA",
        "number": "533401872",
        "nationality": "GBR",
        "birth": date(1988, 3, 14),
        "sex": "F",
        "expiry": date(2031, 11, 23),
    }
    return mrz.make_td3(**{**values, **fields})


def test_an_empty_personal_number_read_with_the_wrong_filler_count_is_rebuilt():
    lines = td3()
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


def test_a_td2_composite_digit_is_checked():
    line2 = ICAO_TD2[1][:-1] + "7"
    assert mrz.parse([ICAO_TD2[0], line2], today=date(2010, 1, 1)).failed_checks == ["composite"]


def test_a_document_number_longer_than_nine_characters():
    # ICAO Doc 9303 part 5: D23145890734, its check digit 9 after the number in the optional
    # field, `<` where the check digit of a nine-character number would stand.
    lines = [
        "I<UTOD23145890<7349<<<<<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<2",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    ]
    result = mrz.parse(lines, today=date(2010, 1, 1))
    assert result.valid and result.document_number == "D23145890734"
    wrong = [lines[0].replace("7349", "7348"), *lines[1:]]
    assert "document number" in mrz.parse(wrong, today=date(2010, 1, 1)).failed_checks


@given(
    number=st.text(alphabet="0123456789ABCDEFGHJKLMNPRSTUVWXYZ", min_size=10, max_size=14),
    fmt=st.sampled_from(["TD1", "TD2", "TD3"]),
)
def test_long_document_numbers_round_trip_in_every_format(number, fmt):
    make = {"TD1": mrz.make_td1, "TD2": mrz.make_td2, "TD3": mrz.make_td3}[fmt]
    lines = make(
        surname="NOVAK",
        given_names="EVA",
        number=number,
        nationality="CZE",
        birth=date(1980, 5, 6),
        sex="F",
        expiry=date(2031, 2, 3),
    )
    assert lines[1 if fmt != "TD1" else 0][9 if fmt != "TD1" else 14] == "<"
    result = mrz.parse(lines, today=date(2026, 1, 1))
    assert result.valid and result.format == fmt, result.failed_checks
    assert result.document_number == number


@pytest.mark.parametrize(
    ("code", "country"),
    [("D", "DE"), ("GBN", "GB"), ("GBD", "GB"), ("RKS", "XK"), ("FRA", "FR"), ("XXA", None)],
)
def test_icao_nationality_codes_map_to_the_country_a_client_registers_with(code, country):
    assert icao.is_known(code) and icao.country_of(code) == country
    assert icao.label("D") == "Germany (D)" and "refugee" in icao.label("XXB")


def test_germany_writes_d_and_it_parses_as_d():
    lines = td3(surname="MUSTERMANN", given_names="ERIKA", number="C01X00T47", nationality="D")
    assert lines[0].startswith("P<D<<MUSTERMANN") and lines[1][10:13] == "D<<"
    result = mrz.parse(lines, today=date(2026, 1, 1))
    assert result.valid and result.nationality == "D" and result.issuing_country == "D"
    assert result.repairs == [] and result.problems == []


def test_a_digit_in_a_letter_field_is_repaired_but_not_proven():
    # What an OCR engine reads for the ICAO specimen: 0 for O in the codes and the surname.
    lines = [
        "P<UT0ERIKSS0N<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UT07408122F1204159ZE184226B<<<<<10",
    ]
    result = mrz.parse(lines, today=date(2010, 1, 1))
    assert result.valid  # every check digit holds: they do not cover letters
    assert (result.surname, result.nationality, result.issuing_country) == (
        "ERIKSSON",
        "UTO",
        "UTO",
    )
    assert {r.field for r in result.unproven_repairs} == {"name", "nationality", "issuing state"}
    assert "not covered by a check digit" in result.unproven_repairs[0].describe()


def test_a_letter_in_a_date_is_repaired_and_proven_by_its_check_digit():
    line2 = ICAO_TD3[1][:13] + "74O812" + ICAO_TD3[1][19:]
    result = mrz.parse([ICAO_TD3[0], line2], today=date(2010, 1, 1))
    assert result.valid and result.birth_date == date(1974, 8, 12)
    assert [(r.field, r.proven) for r in result.repairs] == [("date of birth", True)]
    assert result.unproven_repairs == []


def test_a_repair_that_breaks_a_check_digit_is_not_proven():
    line2 = ICAO_TD3[1][:13] + "74O813" + ICAO_TD3[1][19:]
    result = mrz.parse([ICAO_TD3[0], line2], today=date(2010, 1, 1))
    assert "date of birth" in result.failed_checks
    assert [(r.field, r.proven) for r in result.repairs] == [("date of birth", False)]


def test_a_country_code_digit_that_fits_no_known_code_stays_a_problem():
    # The Romanian sample card in tests/kyc/data/real: digits where the nationality stands.
    lines = ["IDROUSAVA<<SUPERMAN<<<<<<<<<<<<<<<<<", "HD198025<51328505095M130509012049941"]
    result = mrz.parse(lines, today=date(2026, 1, 1))
    assert result.valid and result.format == "TD2" and result.nationality == "132"
    assert any("nationality '132'" in p for p in result.problems)
