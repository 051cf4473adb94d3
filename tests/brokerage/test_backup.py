"""Backups: the database and the documents, checked whole before and after a restore.

The full drill (new clusters, the seeded demo, ledger and audit verified, pages and documents
opened) is bench/backup_drill.py, run at smoke scale by tests/test_bench_smoke.py."""

import io
import json
import tarfile
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from brokerage import audit_events as brokerage_events
from brokerage.audit import audit_record
from brokerage.backup import BackupError, backup_check, backup_create, backup_restore
from brokerage.models import AuditEvent, Desk

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def empty_database():
    """A new, empty database beside the test database; the connection points at it meanwhile."""
    original = connection.settings_dict["NAME"]
    name = f"{original}_restored"
    quote = connection.ops.quote_name
    with connection._nodb_cursor() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
        admin.execute(f"CREATE DATABASE {quote(name)}")
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield name
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        with connection._nodb_cursor() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")


@pytest.fixture
def installed(tmp_path):
    """A desk, an audit event and two documents in a storage of their own."""
    desk = Desk.objects.create(name="Backup desk")
    audit_record(actor="test", action=brokerage_events.DESK_CREATED, target=desk)
    storage = FileSystemStorage(location=tmp_path / "documents")
    storage.save("kyc/2026/12/passport.jpg", ContentFile(b"\xff\xd8 a passport scan"))
    storage.save("cases/1/note.pdf", ContentFile(b"%PDF-1.7 a case attachment"))
    return storage


def test_a_backup_restores_whole_into_an_empty_database_and_storage(installed, tmp_path):
    manifest = backup_create(out=tmp_path / "backup", storage=installed)
    assert manifest["tables"]["brokerage_desk"] == Desk.objects.count() >= 1
    assert manifest["tables"]["brokerage_auditevent"] == AuditEvent.objects.count() >= 1
    assert set(manifest["documents"]) == {"kyc/2026/12/passport.jpg", "cases/1/note.pdf"}
    assert set(manifest["files"]) == {"database.dump", "documents.tar"}
    events = AuditEvent.objects.count()

    target = FileSystemStorage(location=tmp_path / "restored")
    with empty_database():
        restored = backup_restore(folder=tmp_path / "backup", storage=target)
        assert Desk.objects.filter(name="Backup desk").exists()
        assert AuditEvent.objects.count() == events
    assert restored.documents == 2 and restored.tables == len(manifest["tables"])
    with target.open("kyc/2026/12/passport.jpg") as f:
        assert f.read() == b"\xff\xd8 a passport scan"


def test_a_damaged_backup_is_refused_before_anything_is_loaded(installed, tmp_path):
    backup_create(out=tmp_path / "backup", storage=installed)
    dump = tmp_path / "backup" / "database.dump"
    dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BackupError, match="database.dump does not match the manifest"):
        backup_check(tmp_path / "backup")
    with pytest.raises(CommandError, match="does not match the manifest"):
        call_command("restore", str(tmp_path / "backup"))
    with pytest.raises(CommandError, match="does not match the manifest"):
        call_command("backup", "--check", str(tmp_path / "backup"))


def test_a_restore_never_writes_over_a_database_in_use(installed, tmp_path):
    backup_create(out=tmp_path / "backup", storage=installed)
    desks = Desk.objects.count()
    with pytest.raises(BackupError, match="already has tables"):
        backup_restore(folder=tmp_path / "backup", storage=FileSystemStorage(tmp_path / "x"))
    assert Desk.objects.count() == desks


def test_a_backup_never_overwrites_another(installed, tmp_path):
    (tmp_path / "backup").mkdir()
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(tmp_path / "backup"))


def test_an_archive_entry_outside_the_storage_is_refused(installed, tmp_path):
    backup_create(out=tmp_path / "backup", storage=installed)
    folder = tmp_path / "backup"
    with tarfile.open(folder / "documents.tar", "w") as archive:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    manifest = json.loads((folder / "manifest.json").read_text())
    from brokerage.backup import file_sha256

    digest, size = file_sha256(folder / "documents.tar")
    manifest["files"]["documents.tar"] = {"sha256": digest, "bytes": size}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    target = FileSystemStorage(location=tmp_path / "restored")
    with empty_database(), pytest.raises(BackupError, match="not a document file"):
        backup_restore(folder=folder, storage=target)
    assert not (tmp_path / "etc").exists()
