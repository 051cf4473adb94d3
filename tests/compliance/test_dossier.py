"""A client's compliance dossier: every app's part, the documents, and the audit trail with a
proof that a standard-library script and `audit_verify --dossier` check; asked for and
downloaded by compliance officers only, each step audited."""

import hashlib
import json
import subprocess
import sys
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from brokerage.models import AuditEvent
from clients.models import PersonalDataView
from compliance.models import DossierExport
from tests.clients.factories import make_account, make_deal
from tests.compliance.test_alerts import eager  # noqa: F401
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, methods  # noqa: F401
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(methods):  # noqa: F811
    user, submission = prepared()
    client = user.client
    client.country = "GB"
    client.kyc_level = 1
    client.save()
    deposit_paid(client, methods["stripe"], "250.00")
    account = make_account(client)
    for days in (3, 2, 1):
        make_deal(account, days_ago=days)
    return client, submission


def dossier(tmp_path, client) -> zipfile.ZipFile:
    out = tmp_path / "dossier.zip"
    call_command("client_dossier", str(client.pk), "--out", str(out))
    return zipfile.ZipFile(out)


def test_the_dossier_holds_every_part_the_documents_and_a_manifest(tmp_path, trader):
    client, submission = trader
    archive = dossier(tmp_path, client)
    names = set(archive.namelist())
    for required in (
        "dossier.pdf",
        "README.txt",
        "manifest.json",
        "audit/proof.json",
        "audit/verify.py",
        "data/client_history.json",
        "data/kyc_submissions.json",
        "data/kyc_checks.json",
        "data/appropriateness.json",
        "data/deposits.json",
        "data/ledger.json",
        "data/deals.json",
        "data/signins.json",
        "data/staff_views.json",
        "data/commissions.json",
        "data/screenings.json",
        "data/risk.json",
    ):
        assert required in names, required
    assert archive.read("dossier.pdf").startswith(b"%PDF")
    deals = json.loads(archive.read("data/deals.json"))["rows"]
    assert len(deals) == 3 and all(d["time"].endswith("Z") for d in deals)
    deposits = json.loads(archive.read("data/deposits.json"))["rows"]
    assert [(d["amount"], d["currency"], d["status"]) for d in deposits] == [
        ("250.00", "USD", "succeeded")
    ] or deposits[0]["amount"] == "250.00"
    # The documents, each as stored.
    stored = {d.pk: d for d in submission.documents.all()}
    documents = [n for n in names if n.startswith("documents/kyc/")]
    assert len(documents) == len(stored)
    for name in documents:
        pk = int(name.rsplit("-", 1)[1].split(".")[0])
        with stored[pk].file.open("rb") as handle:
            assert archive.read(name) == handle.read()
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["client_id"] == client.pk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    assert set(manifest["files"]) == names - {"manifest.json"}


def test_the_export_is_audited_with_the_client_as_subject(tmp_path, trader):
    client, _ = trader
    dossier(tmp_path, client)
    event = AuditEvent.objects.get(action="dossier.built")
    assert event.subject_client_id == client.pk and event.actor_label == "system:client_dossier"
    assert len(event.evidence["sha256"]) == 64 and event.evidence["deals"] == 3


def test_the_proof_verifies_with_the_script_and_against_the_chain(tmp_path, trader):
    client, _ = trader
    archive = dossier(tmp_path, client)
    archive.extractall(tmp_path / "x")
    proof_path = tmp_path / "x" / "audit" / "proof.json"
    proof = json.loads(proof_path.read_text())
    assert proof["events"] and not proof["unsealed"]
    assert {e["subject_client_id"] for e in proof["events"]} == {client.pk}
    script = [sys.executable, str(tmp_path / "x" / "audit" / "verify.py"), str(proof_path)]
    run = subprocess.run(script, capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.startswith("OK:"), run.stdout + run.stderr
    call_command("audit_verify", "--dossier", str(tmp_path / "dossier.zip"))

    # An edited event (its reason) no longer matches its seal: both checks say so.
    proof["events"][0]["reason"] = "edited afterwards"
    proof_path.write_text(json.dumps(proof))
    run = subprocess.run(script, capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "does not match its hash" in run.stdout
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as out:
        out.writestr("audit/proof.json", json.dumps(proof))
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit_verify", "--dossier", str(forged))


def test_a_part_that_fails_is_named_and_the_rest_is_written(tmp_path, trader, monkeypatch):
    from compliance import dossier as module

    real = module.contributions

    def broken(client):
        raise RuntimeError("the platform database is away")

    broken.__module__ = "finance.dossier"
    monkeypatch.setattr(module, "contributions", lambda hook: [*real(hook), broken])
    client, _ = trader
    archive = dossier(tmp_path, client)
    assert "data/deals.json" in archive.namelist()
    assert archive.read("dossier.pdf").startswith(b"%PDF")


def test_an_unknown_client_or_an_unwritable_path_is_told(tmp_path, trader):
    with pytest.raises(CommandError, match="No client 999999"):
        call_command("client_dossier", "999999", "--out", str(tmp_path / "a.zip"))
    client, _ = trader
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("client_dossier", str(client.pk), "--out", str(tmp_path / "no" / "a.zip"))


def test_an_officer_asks_watches_and_downloads_and_each_step_is_recorded(
    client,
    trader,
    eager,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    trader_client, _ = trader
    officer = make_staff("compliance_officer")
    login(client, officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/backoffice/compliance/dossiers/client/{trader_client.pk}/")
    assert response.status_code == 302
    export = DossierExport.objects.get()
    assert (export.status, export.progress, export.requested_by) == ("done", 100, officer)
    assert export.counts["deals"] == 3 and export.size > 0 and len(export.sha256) == 64
    page = client.get("/backoffice/compliance/dossiers/").content.decode()
    assert f'data-dossier="{export.pk}"' in page and "data-dossier-download" in page
    download = client.get(f"/backoffice/compliance/dossiers/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    actions = list(
        AuditEvent.objects.filter(subject_client_id=trader_client.pk, action__startswith="dossier.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["dossier.requested", "dossier.built", "dossier.downloaded"]
    assert PersonalDataView.objects.filter(client=trader_client, what="dossier").count() == 1


def test_only_compliance_officers_ask_for_or_download_a_dossier(client, trader, eager):  # noqa: F811
    trader_client, _ = trader
    login(client, make_staff("compliance_officer"))
    client.post("/backoffice/compliance/dossiers/", {"client": trader_client.pk})
    export = DossierExport.objects.get()
    for role in ("sales_agent", "finance_officer", "ops_admin"):
        login(client, make_staff(role))
        assert client.get("/backoffice/compliance/dossiers/").status_code == 403
        assert (
            client.get(f"/backoffice/compliance/dossiers/{export.pk}/download/").status_code == 403
        )
        assert (
            client.post(f"/backoffice/compliance/dossiers/client/{trader_client.pk}/").status_code
            == 403
        )
    assert DossierExport.objects.count() == 1


@pytest.mark.parametrize("value", ["", "abc", "-3", "99999999", "1" * 30])
def test_a_bad_client_number_is_a_form_error(client, value):
    login(client, make_staff("compliance_officer"))
    response = client.post("/backoffice/compliance/dossiers/", {"client": value})
    assert response.status_code == 400 and b"invalid-feedback" in response.content
    assert DossierExport.objects.count() == 0


def test_a_dossier_not_ready_is_not_served(client, trader):
    trader_client, _ = trader
    export = DossierExport.objects.create(client=trader_client, actor_label="x")
    login(client, make_staff("compliance_officer"))
    assert client.get(f"/backoffice/compliance/dossiers/{export.pk}/download/").status_code == 404
    assert client.get("/backoffice/compliance/dossiers/99999/download/").status_code == 404
