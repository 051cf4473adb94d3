"""Backups: the database and the private documents, with a manifest that proves a restore whole.

A backup is a folder:

    database.dump    pg_dump's custom format (compressed; pg_restore reads it table by table)
    documents.tar    every file of the documents storage (KYC documents, case attachments, ...)
    manifest.json    when, from which database, each file's size and SHA-256, every table's row
                     count and every document's SHA-256 at the time of the dump

The database is dumped first (one consistent snapshot, in which the rows are counted too), the
documents after: a document row in
the dump was committed after its file was written, so every file the dump refers to is in the
archive (the archive may hold a few newer files no row refers to yet: harmless).

`backup_restore` loads a backup into an empty database and an empty storage, then checks it
against the manifest: checksums before anything is loaded, row counts and each document's
SHA-256 after. It refuses a database that already has tables: a restore never overwrites.
Both run outside any transaction: they call pg_dump / pg_restore, which connect on their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction

from .errors import DomainError

FORMAT = 1
DUMP, DOCUMENTS, MANIFEST = "database.dump", "documents.tar", "manifest.json"
CHUNK = 1 << 20


class BackupError(DomainError):
    """The backup could not be taken, or does not restore as it should."""

    code = "backup_failed"


@contextlib.contextmanager
def command_errors():
    """In the `backup` and `restore` commands: a BackupError is the command's one-line error."""
    from django.core.management.base import CommandError

    try:
        yield
    except BackupError as exc:
        raise CommandError(exc.message) from exc


@dataclass(frozen=True)
class Restored:
    tables: int
    rows: int
    documents: int


def sha256_of(stream) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def file_sha256(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return sha256_of(f)


def _pg_env() -> tuple[dict, list[str]]:
    """Environment and connection arguments for pg_dump / pg_restore from Django's settings."""
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["--host", str(db.get("HOST") or "localhost"), "--port", str(db.get("PORT") or 5432)]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    return env, args


def _run(command: list[str], env: dict, what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[-2000:]}")


def table_counts() -> dict[str, int]:
    """Exact row counts of every table of the public schema."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        names = [row[0] for row in cur.fetchall()]
        counts = {}
        for name in names:
            cur.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608
            counts[name] = cur.fetchone()[0]
    return counts


def document_names(storage=default_storage, folder: str = "") -> list[str]:
    """Every file in the storage, as storage names, sorted."""
    found = []
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    for name in files:
        found.append(f"{folder}/{name}" if folder else name)
    for sub in folders:
        found += document_names(storage, f"{folder}/{sub}" if folder else sub)
    return sorted(found)


def backup_create(*, out: Path, storage=default_storage) -> dict:
    """Write a backup into the folder `out` (created; must not exist). Returns the manifest."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists: a backup never overwrites another.")
    out.mkdir(parents=True)
    env, args = _pg_env()
    db_name = connection.settings_dict["NAME"]
    started = datetime.now(UTC)
    # The rows are counted in the very snapshot pg_dump dumps (exported to it), so a restore
    # must give back exactly these counts.
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
        counts = table_counts()
        _run(
            ["pg_dump", *args, "--format=custom", "--compress=6", f"--snapshot={snapshot}"]
            + ["--file", str(out / DUMP), db_name],
            env,
            "pg_dump",
        )
    documents = {}
    with tarfile.open(out / DOCUMENTS, "w") as archive:
        for name in document_names(storage):
            with storage.open(name, "rb") as f:
                digest, size = sha256_of(f)
                f.seek(0)
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = size, 0o600, int(started.timestamp())
                archive.addfile(info, f)
            documents[name] = digest
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        server_version = cur.fetchone()[0]
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "database": db_name,
        "server_version": server_version,
        "files": {
            name: dict(zip(("sha256", "bytes"), file_sha256(out / name), strict=True))
            for name in (DUMP, DOCUMENTS)
        },
        "tables": counts,  # in the dump's own snapshot
        "documents": documents,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def manifest_read(folder: Path) -> dict:
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} has no {MANIFEST}: not a backup.") from None
    except ValueError as exc:
        raise BackupError(f"{folder / MANIFEST} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is a backup of format {manifest.get('format')!r}, not 1.")
    return manifest


def backup_check(folder: Path) -> dict:
    """The manifest, once every file's size and SHA-256 matches it."""
    folder = Path(folder)
    manifest = manifest_read(folder)
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.exists():
            raise BackupError(f"{path} is missing.")
        digest, size = file_sha256(path)
        if (digest, size) != (expected["sha256"], expected["bytes"]):
            raise BackupError(
                f"{path} does not match the manifest (SHA-256 {digest[:12]}…, {size} bytes; "
                f"expected {expected['sha256'][:12]}…, {expected['bytes']} bytes)."
            )
    return manifest


def _safe_member(member: tarfile.TarInfo) -> str:
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts:
        raise BackupError(f"{DOCUMENTS} holds {member.name!r}, which is not a document file.")
    return member.name


def backup_restore(*, folder: Path, storage=default_storage, jobs: int = 1) -> Restored:
    """Restore the backup in `folder` into this (empty) database and the documents storage,
    then check what was restored against the manifest."""
    folder = Path(folder)
    manifest = backup_check(folder)
    if table_counts():
        raise BackupError(
            f"The database {connection.settings_dict['NAME']!r} already has tables: restore "
            "into a new, empty database (createdb), never over one in use."
        )
    clashes = [n for n in manifest["documents"] if storage.exists(n)]
    if clashes:
        raise BackupError(
            f"The documents storage already holds {len(clashes)} of the backup's files (e.g. "
            f"{clashes[0]!r}): restore into an empty storage."
        )
    env, args = _pg_env()
    command = ["pg_restore", *args, "--no-owner", "--no-privileges", "--exit-on-error"]
    command += ["--jobs", str(jobs)] if jobs > 1 else ["--single-transaction"]
    _run(
        [*command, "--dbname", connection.settings_dict["NAME"], str(folder / DUMP)],
        env,
        "pg_restore",
    )
    connection.close()  # the restored schema: no cached state from the empty database
    restored_docs = _documents_restore(folder / DOCUMENTS, manifest, storage)
    counts = table_counts()
    expected = manifest["tables"]
    missing = sorted(set(expected) - set(counts))
    if missing:
        raise BackupError(f"Tables missing after the restore: {', '.join(missing)}.")
    differ = {t: (counts[t], n) for t, n in expected.items() if counts[t] != n}
    if differ:
        table, (got, want) = next(iter(sorted(differ.items())))
        raise BackupError(
            f"{table} has {got} rows after the restore, {want} in the backup "
            f"({len(differ)} table(s) differ)."
        )
    return Restored(tables=len(counts), rows=sum(counts.values()), documents=restored_docs)


def _documents_restore(archive_path: Path, manifest: dict, storage) -> int:
    restored = 0
    with tarfile.open(archive_path, "r") as archive, tempfile.TemporaryDirectory() as tmp:
        for member in archive:
            name = _safe_member(member)
            source = archive.extractfile(member)
            spool = Path(tmp) / "doc"
            with spool.open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            with spool.open("rb") as f:
                saved = storage.save(name, File(f, name=name))
            if saved != name:
                raise BackupError(f"The storage saved {name!r} as {saved!r}: restore stopped.")
            restored += 1
    for name, digest in manifest["documents"].items():
        try:
            with storage.open(name, "rb") as f:
                got = sha256_of(f)[0]
        except FileNotFoundError:
            raise BackupError(f"Document {name!r} is missing after the restore.") from None
        if got != digest:
            raise BackupError(f"Document {name!r} does not match its SHA-256 after the restore.")
    return restored
