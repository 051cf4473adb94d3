"""List imports: the real OFAC and UN files, an EU sample, a CSV PEP list; snapshots and deltas;
a malformed file changes nothing and names where it broke."""

from datetime import date

import pytest

from brokerage.models import AuditEvent
from compliance import audit_events
from compliance.lists import ListFileError
from compliance.lists.base import ParsedEntry, country_code
from compliance.lists.ofac import apply_remarks, parse_dob, read_ofac
from compliance.models import (
    EntryBirthDate,
    EntryCountry,
    EntryDocument,
    EntryName,
    ListEntry,
    ListSnapshot,
    NameToken,
)
from compliance.services import snapshot_import

from .conftest import ofac_files, un_files

pytestmark = pytest.mark.django_db


def test_real_ofac_list_imports_with_its_aliases(real_lists):
    ofac, _ = real_lists
    assert ofac.entry_count == 8976
    entries = ListEntry.objects.filter(snapshot=ofac)
    assert entries.count() == 8976
    parsed = read_ofac(ofac_files())
    assert len(parsed.entries) == 8976
    assert sum(1 for e in parsed.entries for a in e.aliases if a[1] == "strong") == 11_910
    # Stored once per entry and normalised spelling ("AL-ASADI" and "AL ASADI" are one name).
    stored = EntryName.objects.filter(entry__snapshot=ofac, is_primary=False, quality="strong")
    assert 11_000 < stored.count() < 11_910
    assert entries.filter(kind="person").count() == 4620
    assert entries.filter(kind="vessel").count() == 406
    assert entries.filter(kind="aircraft").count() == 277
    nasrallah = entries.get(list_id="2686")
    assert nasrallah.kind == "person" and nasrallah.gender == "male"
    assert nasrallah.programmes == ["SDGT", "SYRIA"]
    dobs = sorted(nasrallah.birth_dates.values_list("earliest", flat=True))
    assert dobs == [date(1953, 8, 31), date(1955, 8, 31), date(1958, 8, 31), date(1960, 8, 31)]
    passport = nasrallah.documents.get()
    assert (passport.kind, passport.number, passport.country) == ("Passport", "042833", "LB")
    # sdn_comments.csv continues the remarks of sdn.csv
    assert "Linked To: LAZARUS GROUP" in entries.get(list_id="28264").remarks
    assert ofac.added_count == 8976 and ofac.changed_count == ofac.removed_count == 0
    assert NameToken.objects.filter(snapshot=ofac).exists()
    event = AuditEvent.objects.get(action=audit_events.LIST_IMPORTED, target_id=str(ofac.pk))
    assert event.evidence["entries"] == 8976


def test_real_un_list_imports(real_lists):
    _, un = real_lists
    entries = ListEntry.objects.filter(snapshot=un)
    assert entries.filter(kind="person").count() == 730
    assert entries.filter(kind="entity").count() == 273
    assert un.published_on == date(2026, 2, 27)
    assert EntryName.objects.filter(entry__snapshot=un, quality="low").exists()
    badege = entries.get(list_id="CDi.001")
    assert badege.primary_name == "ERIC BADEGE"
    assert list(badege.countries.values_list("country", flat=True)) == ["CD"]
    year = badege.birth_dates.get()
    assert (year.kind, year.earliest, year.latest) == ("year", date(1971, 1, 1), date(1971, 12, 31))
    between = EntryBirthDate.objects.filter(entry__snapshot=un, kind="range").first()
    assert between.earliest.month == 1 and between.latest.month == 12
    assert between.earliest.year < between.latest.year
    assert EntryDocument.objects.filter(entry__snapshot=un, kind="Passport").count() > 100
    # Country names as the UN writes them become ISO codes.
    codes = set(EntryCountry.objects.filter(entry__snapshot=un).values_list("country", flat=True))
    assert {"KP", "IR", "CD", "GB", "PS", "TR"} <= codes


def test_reimporting_the_same_file_is_a_snapshot_with_no_changes(real_lists):
    _, un = real_lists
    again = snapshot_import(fmt="un", files=un_files(), actor="tests")
    assert again.previous == un and again.is_current
    assert again.file_hash == un.file_hash
    assert (again.added_count, again.changed_count, again.removed_count) == (0, 0, 0)
    un.refresh_from_db()
    assert not un.is_current
    # The candidate index moved to the new snapshot.
    assert not NameToken.objects.filter(snapshot=un).exists()
    assert NameToken.objects.filter(snapshot=again).exists()


def test_a_changed_file_counts_added_changed_and_removed(real_lists):
    _, un = real_lists
    xml = un_files()[0][1].decode()
    # Remove CDi.001's whole record, change CDi.002's name, add a new entity.
    start = xml.index("<INDIVIDUAL>")
    end = xml.index("</INDIVIDUAL>", start) + len("</INDIVIDUAL>")
    assert "CDi.001" in xml[start:end]
    xml = xml[:start] + xml[end:]
    xml = xml.replace(
        "<FIRST_NAME>FRANK KAKOLELE</FIRST_NAME>", "<FIRST_NAME>FRANK K.</FIRST_NAME>"
    )
    xml = xml.replace(
        "<ENTITIES>",
        "<ENTITIES><ENTITY><DATAID>1</DATAID><FIRST_NAME>NEW FRONT COMPANY</FIRST_NAME>"
        "<REFERENCE_NUMBER>XXe.001</REFERENCE_NUMBER></ENTITY>",
        1,
    )
    snap = snapshot_import(fmt="un", files=[("un.xml", xml.encode())], actor="tests")
    assert (snap.added_count, snap.changed_count, snap.removed_count) == (1, 1, 1)
    assert snap.delta == {"added": ["XXe.001"], "changed": ["CDi.002"], "removed": ["CDi.001"]}


def test_a_malformed_ofac_file_names_its_line_and_changes_nothing(real_lists):
    ofac, _ = real_lists
    files = ofac_files()
    sdn = files[0][1].split(b"\r\n")
    sdn[41] = b'99999999,"BROKEN ROW",individual'
    files[0] = ("sdn.csv", b"\r\n".join(sdn))
    before = (ListSnapshot.objects.count(), ListEntry.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ListFileError) as caught:
        snapshot_import(fmt="ofac_sdn", files=files, actor="tests")
    assert "sdn.csv line 42" in caught.value.message
    assert "expected 12 columns, found 3" in caught.value.message
    after = (ListSnapshot.objects.count(), ListEntry.objects.count(), AuditEvent.objects.count())
    assert before == after
    ofac.refresh_from_db()
    assert ofac.is_current


def test_an_alias_of_an_unknown_entity_is_refused_with_its_line():
    before = ListSnapshot.objects.count()
    alt = b'1,1,"aka","SOMEONE",-0- \r\n'
    sdn = b'2,"SOMEBODY, Else",individual,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    with pytest.raises(ListFileError, match="alt.csv line 1: entity number 1 is not in sdn.csv"):
        snapshot_import(fmt="ofac_sdn", files=[("sdn.csv", sdn), ("alt.csv", alt)], actor="t")
    assert ListSnapshot.objects.count() == before


def test_malformed_xml_names_the_element_or_the_line():
    before = ListSnapshot.objects.count()
    with pytest.raises(ListFileError, match=r"un.xml line 3, column \d+: not well-formed"):
        snapshot_import(
            fmt="un",
            files=[("un.xml", b"<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n</ENTITIES>")],
            actor="t",
        )
    bad_date = (
        b"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>7</DATAID><FIRST_NAME>A</FIRST_NAME>"
        b"<SECOND_NAME>B</SECOND_NAME><REFERENCE_NUMBER>QDi.9</REFERENCE_NUMBER>"
        b"<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1970</FROM_YEAR>"
        b"<TO_YEAR>19x0</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH></INDIVIDUAL></INDIVIDUALS>"
        b"</CONSOLIDATED_LIST>"
    )
    with pytest.raises(ListFileError) as caught:
        snapshot_import(fmt="un", files=[("un.xml", bad_date)], actor="t")
    assert (
        "INDIVIDUALS/INDIVIDUAL[1] (DATAID 7)/INDIVIDUAL_DATE_OF_BIRTH[1]" in caught.value.message
    )
    assert ListSnapshot.objects.count() == before


def test_xml_with_entity_declarations_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<CONSOLIDATED_LIST>&lol2;</CONSOLIDATED_LIST>"
    )
    with pytest.raises(ListFileError, match="refused"):
        snapshot_import(fmt="un", files=[("un.xml", bomb)], actor="t")


@pytest.mark.parametrize(
    ("text", "kind", "earliest", "latest"),
    [
        ("10 Dec 1948", "exact", date(1948, 12, 10), date(1948, 12, 10)),
        ("Dec 1948", "month", date(1948, 12, 1), date(1948, 12, 31)),
        ("1948", "year", date(1948, 1, 1), date(1948, 12, 31)),
        ("circa 1950", "circa", date(1950, 1, 1), date(1950, 12, 31)),
        ("1960 to 1962", "range", date(1960, 1, 1), date(1962, 12, 31)),
        ("01 Jan 1960 to 31 Dec 1962", "range", date(1960, 1, 1), date(1962, 12, 31)),
    ],
)
def test_ofac_dates_of_birth(text, kind, earliest, latest):
    parsed = parse_dob(text)
    assert (parsed.kind, parsed.earliest, parsed.latest) == (kind, earliest, latest)


def test_ofac_remarks_give_dates_countries_documents_gender_and_weak_aliases():
    entry = ParsedEntry(
        list_id="1",
        kind="person",
        primary_name="DOE, John",
        remarks=(
            "DOB 10 Dec 1948; alt. DOB 1946; alt. DOB circa 1950; alt. DOB 1960 to 1962; "
            "POB Baghdad, Iraq; nationality Iraq; alt. nationality Iran; citizen Syria; "
            "Gender Male; Passport A1234567 (Iraq); alt. Passport B7654321 issued 2010 (Iran); "
            "National ID No. 99-12 (Syria); a.k.a. 'ABU JOHN'; Linked To: SOME FRONT."
        ),
    )
    apply_remarks(entry)
    assert [(d.kind, d.text) for d in entry.birth_dates] == [
        ("exact", "10 Dec 1948"),
        ("year", "1946"),
        ("circa", "circa 1950"),
        ("range", "1960 to 1962"),
    ]
    assert entry.countries == [
        ("nationality", "IQ", "Iraq"),
        ("nationality", "IR", "Iran"),
        ("citizenship", "SY", "Syria"),
    ]
    assert entry.gender == "male"
    assert [(d[0], d[1], d[2]) for d in entry.documents] == [
        ("Passport", "A1234567", "IQ"),
        ("Passport", "B7654321", "IR"),
        ("National ID No.", "99-12", "SY"),
    ]
    assert entry.documents[1][3] == "issued 2010"
    assert entry.aliases == [("ABU JOHN", "weak", "aka")]


def test_country_names_to_codes():
    assert country_code("Iran (Islamic Republic of)") == "IR"
    assert country_code("Korea, North") == "KP"
    assert country_code("United Kingdom of Great Britain and Northern Ireland") == "GB"
    assert country_code("The Gambia") == "GM"
    assert country_code("former Soviet Union") == ""
    assert country_code("Atlantis") == ""


EU_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-03-01T10:00:00.000+01:00">
  <sanctionEntity designationDetails="" unitedNationId="IQi.001" euReferenceNumber="EU.27.28"
      logicalId="13">
    <regulation regulationType="regulation" programme="IRQ" entryIntoForceDate="2003-07-08"/>
    <subjectType code="person" classificationCode="P"/>
    <nameAlias firstName="Saddam" middleName="Hussein" lastName="Al-Tikriti"
        wholeName="Saddam Hussein Al-Tikriti" gender="M" title="" function="" strong="true"
        logicalId="17"/>
    <nameAlias firstName="" lastName="" wholeName="Abu Ali" strong="false" logicalId="18"/>
    <citizenship countryIso2Code="IQ" countryDescription="IRAQ" logicalId="19"/>
    <birthdate circa="false" birthdate="1937-04-28" dayOfMonth="28" monthOfYear="4" year="1937"
        countryIso2Code="IQ" city="al-Awja" logicalId="20"/>
    <identification number="A123456" identificationTypeCode="passport"
        identificationTypeDescription="National passport" countryIso2Code="IQ" logicalId="21"/>
    <remark>Former President.</remark>
  </sanctionEntity>
  <sanctionEntity logicalId="14" euReferenceNumber="EU.1.2">
    <regulation programme="IRN"/>
    <subjectType code="enterprise" classificationCode="E"/>
    <nameAlias wholeName="Example Shipping Company LLC" strong="true" logicalId="30"/>
  </sanctionEntity>
  <sanctionEntity logicalId="15">
    <subjectType code="person" classificationCode="P"/>
    <nameAlias firstName="Ivan" lastName="Petrov" gender="M" strong="true" logicalId="40"/>
    <birthdate circa="true" year="1960" logicalId="41"/>
    <birthdate yearRangeFrom="1961" yearRangeTo="1963" logicalId="42"/>
  </sanctionEntity>
</export>
"""


def test_eu_file_imports():
    snap = snapshot_import(fmt="eu", files=[("eu.xml", EU_SAMPLE)], actor="tests")
    assert snap.entry_count == 3 and snap.published_on == date(2026, 3, 1)
    saddam = ListEntry.objects.get(snapshot=snap, list_id="13")
    assert saddam.kind == "person" and saddam.gender == "male" and saddam.programmes == ["IRQ"]
    assert saddam.primary_name == "Saddam Hussein Al-Tikriti"
    assert list(saddam.names.values_list("name", "quality")) == [
        ("Saddam Hussein Al-Tikriti", "strong"),
        ("Abu Ali", "weak"),
    ]
    assert list(saddam.countries.values_list("country", flat=True)) == ["IQ"]
    assert saddam.birth_dates.get().earliest == date(1937, 4, 28)
    assert saddam.documents.get().number == "A123456"
    assert ListEntry.objects.get(snapshot=snap, list_id="14").kind == "entity"
    petrov = ListEntry.objects.get(snapshot=snap, list_id="15")
    assert petrov.primary_name == "Ivan Petrov"
    assert sorted(petrov.birth_dates.values_list("kind", flat=True)) == ["circa", "range"]


def test_eu_file_without_subject_type_names_the_entity():
    broken = EU_SAMPLE.replace(b'<subjectType code="enterprise" classificationCode="E"/>', b"")
    with pytest.raises(ListFileError, match=r"sanctionEntity\[2\] \(logicalId 14\)"):
        snapshot_import(fmt="eu", files=[("eu.xml", broken)], actor="tests")


PEP_CSV = (
    "Ref,Full name,Also known as,Born,Country,Sex,Position\n"
    "P-1,Jane Q. Minister,Jane Minister;J. Q. Minister,1961-05-02,GB,F,Minister of Finance\n"
    "P-2,Juan Pérez García,,1955,Spain,M,Mayor\n"
)
PEP_MAPPING = {
    "list_id": "Ref",
    "name": "Full name",
    "aliases": "Also known as",
    "dob": "Born",
    "nationality": "Country",
    "gender": "Sex",
    "programme": "Position",
}


def test_csv_pep_list_imports_through_its_mapping():
    snap = snapshot_import(
        fmt="csv",
        files=[("pep.csv", PEP_CSV.encode())],
        actor="tests",
        list_code="pep-vendor",
        mapping=PEP_MAPPING,
    )
    assert snap.source.kind == "pep" and snap.entry_count == 2
    jane = ListEntry.objects.get(snapshot=snap, list_id="P-1")
    assert jane.gender == "female" and jane.programmes == ["Minister of Finance"]
    assert jane.names.count() == 3
    assert jane.birth_dates.get().earliest == date(1961, 5, 2)
    perez = ListEntry.objects.get(snapshot=snap, list_id="P-2")
    assert list(perez.countries.values_list("country", flat=True)) == ["ES"]


def test_csv_list_with_a_bad_date_names_the_line():
    before = ListSnapshot.objects.count()
    bad = PEP_CSV.replace("1955", "55-1-1")
    with pytest.raises(ListFileError, match="pep.csv line 3: date of birth '55-1-1'"):
        snapshot_import(
            fmt="csv",
            files=[("pep.csv", bad.encode())],
            actor="tests",
            list_code="pep-vendor",
            mapping=PEP_MAPPING,
        )
    assert ListSnapshot.objects.count() == before
