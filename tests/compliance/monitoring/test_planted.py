"""On the demo book's year (`demo.book`), the nightly batch alerts every planted client for
the typology planted on it, and ordinary clients stay under 1% alerted."""

import pytest
from django.utils import timezone

from compliance.monitoring import run_nightly
from compliance.monitoring.models import Alert
from demo.book import install_book_year
from demo.planted import planted_cases, planted_client_ids
from tests.demo.test_book import make_book

pytestmark = pytest.mark.django_db


def test_every_planted_case_is_alerted_for_its_typology_and_ordinary_clients_are_not():
    make_book(120)
    install_book_year(now=timezone.now(), per_typology=2)
    result = run_nightly()
    alerted = set(Alert.objects.values_list("scenario__code", "client_id"))
    missed = {
        code: [c for c in ids if (code, c) not in alerted]
        for code, ids in planted_cases().items()
        if any((code, c) not in alerted for c in ids)
    }
    assert not missed, f"planted clients not alerted: {missed} ({result['scenarios']})"
    ordinary = (
        Alert.objects.exclude(client_id__in=planted_client_ids())
        .values_list("scenario__code", "client_id")
        .distinct()
    )
    assert len(ordinary) <= 1, f"ordinary clients alerted: {sorted(ordinary)}"
