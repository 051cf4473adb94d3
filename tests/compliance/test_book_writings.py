"""Names written joined, split, in Hangul or misspelt are found the same way one at a time, in
a batch, by the nightly re-screen of the book and by the delta a new snapshot queues: the
candidate index reads the same other writings on every path, and looks a token no list has up
among the list tokens most like it by trigrams (`candidates.TrigramIndex`, in memory), as
pg_trgm measures similarity."""

import pytest
from django.db import connection

from compliance.candidates import TRIGRAM_THRESHOLD, TYPO_SIMILAR, list_index
from compliance.matching import Query
from compliance.models import Alert, ScreeningJob
from compliance.rescreen import book_rescreen
from compliance.screening import candidate_pairs, current_snapshots, screen
from compliance.services import snapshot_import
from compliance.tasks import nightly_rescreen_task
from tests.compliance.conftest import ofac_files
from tests.compliance.test_alerts import register

pytestmark = pytest.mark.django_db

# (first name, last name, the OFAC entry it names)
WRITINGS = [
    ("Abdulrahman", "Yasin", "6931"),  # YASIN, Abdul Rahman: two names run together
    ("Guo Ying", "Wang", "16819"),  # WANG, Guoying: one written apart
    ("Hafiz Abdulrahman", "Makki", "12295"),
    ("정은", "김", "20157"),  # KIM, Jong Un, in Hangul
    ("병철", "리", "23215"),  # RI, Pyong Chol
    ("룡해", "최", "23213"),  # CHOE, Ryong Hae
    ("Hasan", "Nasrallha", "2686"),  # NASRALLAH, Hasan: a token no list has, misspelt
    ("Mamoun", "Darkazamli", "6947"),  # DARKAZANLI, Mamoun
    ("Gulbuddin", "Hekmatjar", "7471"),  # HEKMATYAR, Gulbuddin
]
MISSPELT = WRITINGS[-3:]
OTHERS = ["John Smith", "Maria Garcia Lopez", "Ivan Petrov", "Nguyen Van Minh", "Ali Hassan"]


def entries_hit(hits) -> set[str]:
    return {h.entry_id for h in hits if h.list == "ofac_sdn"}


def test_a_batch_finds_what_one_screening_at_a_time_finds(real_lists):
    names = [f"{first} {last}" for first, last, _entry in WRITINGS] + OTHERS
    queries = [Query(n, kind="person") for n in names * 12]  # a batch of 168 names
    batch = screen(queries)
    for i, name in enumerate(names):
        alone = screen([Query(name, kind="person")])[0]
        assert entries_hit(batch[i]) == entries_hit(alone), name
    for i, (_first, _last, entry) in enumerate(WRITINGS):
        assert entry in entries_hit(batch[i])
    # The misspelt ones are found through the list tokens most like their misspelt token.
    index = list_index(current_snapshots())
    without = candidate_pairs(queries, current_snapshots(), typos=False, hits_only=True)
    for i, writing in enumerate(WRITINGS):
        if writing in MISSPELT:
            assert writing[2] not in {index.by_name[n].list_id for n in without.get(i, ())}


PG_TRGM_SQL = """
SELECT token FROM compliance_tokenweight
 WHERE similarity(token, %(word)s) >= %(threshold)s
 ORDER BY similarity(token, %(word)s) DESC, token COLLATE "C"
 LIMIT %(per)s
"""


def test_the_list_tokens_most_like_a_misspelt_one_are_those_pg_trgm_gives(real_lists):
    index = list_index(current_snapshots())
    words = ["nasrallha", "darkazamli", "hekmatjar", "husssein", "mohamad", "petrof", "zzzzqx"]
    with connection.cursor() as cur:
        for word in words:
            cur.execute(
                PG_TRGM_SQL, {"word": word, "threshold": TRIGRAM_THRESHOLD, "per": TYPO_SIMILAR}
            )
            assert index.trigrams.similar(word) == [row[0] for row in cur.fetchall()], word


def registered():
    clients = {
        entry: register(first, last, f"c{i}@test.example")
        for i, (first, last, entry) in enumerate(WRITINGS)
    }
    for i, name in enumerate(OTHERS):
        register(*name.rsplit(" ", 1), f"o{i}@test.example")
    return clients


def raised(clients) -> dict[str, set[str]]:
    alerts = Alert.objects.filter(client__in=clients.values(), source__code="ofac_sdn")
    by_client = {c.pk: entry for entry, c in clients.items()}
    found: dict[str, set[str]] = {}
    for client_id, list_id in alerts.values_list("client_id", "list_id"):
        found.setdefault(by_client[client_id], set()).add(list_id)
    return found


def test_the_nightly_rescreen_finds_joined_split_and_hangul_names(real_lists):
    clients = registered()
    job = ScreeningJob.objects.get(pk=nightly_rescreen_task())
    book_rescreen(job_id=job.pk)
    found = raised(clients)
    assert all(entry in found.get(entry, set()) for entry in clients), found


def test_a_new_snapshot_finds_them_among_its_changed_entries(real_lists):
    clients = registered()
    files = ofac_files()
    sdn = files[0][1].decode("latin-1").split("\n")
    for i, line in enumerate(sdn):
        if line.split(",", 1)[0] in clients:  # each entry's programme amended
            sdn[i] = line.replace(',"individual","', ',"individual","AMENDED-', 1)
    files[0] = ("sdn.csv", "\n".join(sdn).encode("latin-1"))
    snapshot = snapshot_import(fmt="ofac_sdn", files=files, actor="tests")
    assert snapshot.changed_count == len(clients)
    job = ScreeningJob.objects.get(snapshot=snapshot, kind="delta")
    book_rescreen(job_id=job.pk)
    found = raised(clients)
    assert all(entry in found.get(entry, set()) for entry in clients), found
