from pathlib import Path

import pytest

from compliance.services import snapshot_import
from tests.conftest import module_transaction

DATA = Path(__file__).parent / "data" / "sanctions"
OFAC_FILES = ("sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv")


def ofac_files():
    return [(name, (DATA / name).read_bytes()) for name in OFAC_FILES]


def un_files():
    return [("un_consolidated.xml", (DATA / "un_consolidated.xml").read_bytes())]


def import_real_lists():
    ofac = snapshot_import(fmt="ofac_sdn", files=ofac_files(), actor="tests")
    un = snapshot_import(fmt="un", files=un_files(), actor="tests")
    return ofac, un


@pytest.fixture(scope="module")
def real_lists_once(django_db_setup, django_db_blocker):
    """The real OFAC and UN lists imported once for the module, in a transaction rolled back at
    its end (each test runs in a savepoint inside it)."""
    with module_transaction(django_db_blocker):
        yield import_real_lists()


@pytest.fixture
def real_lists(real_lists_once, db):
    return real_lists_once
