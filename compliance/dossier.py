"""A client's compliance dossier: everything the brokerage holds about one client, put together
so a regulator can reconstruct their dealings, as one ZIP.

The contract:
- The parts come from every app through the kernel's `dossier.sections` hook
  (`brokerage.dossier`): clients (the record and its history, trading accounts and deals,
  communications and tickets, sign-ins and staff views), kyc (identity evidence, checks,
  decisions, the appropriateness test, the financial profile, the documents), finance (every
  deposit, withdrawal, transfer, refund and chargeback with approvals and PSP references, the
  ledger postings), ib (attribution and commissions), compliance (screenings with their list
  snapshots, alerts, risk ratings, reviews, jurisdiction rules). A part that fails is named in
  the dossier and the rest is still written.
- The audit trail comes from the kernel with its proof (`brokerage.audit.audit_subject_proof`):
  each event with its seal's sequence, previous hash and hash, and the chain head at export.
- The ZIP holds `dossier.pdf` (to read: the facts, and each table's first rows with the count
  of the rest), `data/<table>.json` and `data/<table>.csv` (every row, for a program and for a
  spreadsheet), `documents/...` (the files, each with the
  SHA-256 of the file as uploaded; photos are stored re-encoded, so the manifest has the
  stored file's own), `audit/proof.json` and `audit/verify.py`
  (a standard-library script that checks the proof), `README.txt`, and `manifest.json` (the
  SHA-256 of every other file).
- `dossier_request` (compliance officers) queues a `DossierExport`; `dossier_export_run` builds
  it on the compliance queue with its progress; `dossier_write` is the builder itself, also used
  by `manage.py client_dossier`. Each request, build and download is audited with the client as
  subject, and each download is in the personal-data access log.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from brokerage import audit_proof
from brokerage.audit import audit_subject_proof
from brokerage.csvexport import csv_writer
from brokerage.dossier import PDF_ROWS, DossierSection, DossierTable, plain, table_cell
from brokerage.hooks import DOSSIER_SECTIONS, contributions
from brokerage.services import audit_record
from clients.models import Client

from . import audit_events as E
from .models import DossierExport, JobStatus
from .permissions import require_officer

log = logging.getLogger(__name__)
README = """Compliance dossier of client {client_id}, made {generated_at} UTC by {by}.

dossier.pdf        the dossier to read: facts, and each table's first {pdf_rows} rows
data/*.json        every row of every table (times in UTC, ISO 8601; amounts exact)
data/*.csv         the same tables for a spreadsheet, with labels
documents/         the documents the client uploaded, as stored
audit/proof.json   every audit event about the client, each with its place in the audit
                   log's hash chain (sequence, previous hash, hash) and the chain head
audit/verify.py    checks the proof with Python 3's standard library:
                       python3 audit/verify.py audit/proof.json
                   and, against the brokerage's own database:
                       manage.py audit_verify --dossier THIS.zip
manifest.json      the SHA-256 of every file above
"""


@dataclass
class Built:
    sha256: str
    size: int
    counts: dict


def _sections(client) -> list[DossierSection]:
    out = []
    for fn in contributions(DOSSIER_SECTIONS):
        try:
            out.append(fn(client))
        except Exception as exc:  # one part failing must not lose the rest
            log.exception("dossier section %s failed for client %s", fn.__name__, client.pk)
            out.append(
                DossierSection(
                    key=fn.__module__.split(".")[0],
                    title=f"{fn.__module__.split('.')[0]}: could not be read",
                    facts=[("Error", f"{type(exc).__name__}: {exc}"[:300])],
                )
            )
    return sorted(out, key=lambda s: s.order)


def _audit_section(proof: dict) -> DossierSection:
    columns = [
        ("When (UTC)", "occurred_at"),
        ("Seq", "seq"),
        ("Action", "action"),
        ("By", "actor_label"),
        ("Target", "target_repr"),
        ("Reason", "reason"),
        ("Hash", "hash"),
    ]
    rows = [plain({path: e[path] for _, path in columns}) for e in proof["events"]]
    return DossierSection(
        key="audit",
        title="Audit trail, sealed in the hash chain",
        order=1000,
        facts=[
            ("Events", str(len(proof["events"]))),
            ("Not yet sealed at export", str(len(proof["unsealed"]))),
            ("Chain head at export", f"seq {proof['head']['seq']} · {proof['head']['hash']}"),
        ],
        tables=[DossierTable("audit_events", "Audit events", columns, rows)],
    )


def dossier_write(*, client, out, by: str, progress=None) -> Built:
    """Write client `client`'s dossier as a ZIP into the binary file `out`; `progress(done,
    total, step)` is called as it goes."""
    sections = _sections(client)
    files = [f for s in sections for f in s.files]
    total = len(sections) + len(files) + 3
    done = 0

    def tick(step: str):
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, step)

    manifest: dict[str, str] = {}
    counts: dict[str, int] = {}
    generated_at = timezone.now()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, data: bytes):
            archive.writestr(name, data)
            manifest[name] = hashlib.sha256(data).hexdigest()

        for section in sections:
            for t in section.tables:
                put(f"data/{t.key}.json", _json({"title": t.title, "rows": t.rows}))
                put(f"data/{t.key}.csv", _csv(t))
                counts[t.key] = len(t.rows)
            tick(section.title)
        for f in files:
            digest = hashlib.sha256()
            name = f"documents/{f.name}"
            with f.open() as src, archive.open(name, "w") as dst:
                for chunk in iter(lambda s=src: s.read(1 << 20), b""):
                    digest.update(chunk)
                    dst.write(chunk)
            manifest[name] = digest.hexdigest()
            tick(f.name)
        counts["documents"] = len(files)
        proof = audit_subject_proof(client.pk)
        audit = _audit_section(proof)
        sections.append(audit)
        put("audit/proof.json", _json(proof))
        put("audit/verify.py", Path(audit_proof.__file__).read_bytes())
        counts["audit_events"] = len(proof["events"])
        tick("Audit trail")
        put("dossier.pdf", _pdf(client, sections, generated_at, by))
        tick("PDF")
        readme = README.format(
            client_id=client.pk,
            generated_at=generated_at.strftime("%Y-%m-%d %H:%M:%S"),
            by=by,
            pdf_rows=PDF_ROWS,
        )
        put("README.txt", readme.encode())
        archive.writestr(
            "manifest.json",
            _json(
                {
                    "client_id": client.pk,
                    "generated_at": plain(generated_at),
                    "by": by,
                    "files": manifest,
                }
            ),
        )
        tick("Manifest")
    return Built(sha256="", size=0, counts=counts)


def _csv(t: DossierTable) -> bytes:
    """A table for a spreadsheet: labelled columns, choice labels, every row and whole values
    (UTF-8 with a byte-order mark, which spreadsheet programs read as UTF-8)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)  # no cell a spreadsheet would read as a formula
    writer.writerow([label for label, _ in t.columns])
    for row in t.rows:
        writer.writerow([table_cell(t, row, path) for _, path in t.columns])
    return ("\ufeff" + buffer.getvalue()).encode()


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str).encode()


def _pdf(client, sections, generated_at, by) -> bytes:
    from weasyprint import HTML

    shown = [
        {
            "section": s,
            "tables": [
                {
                    "t": t,
                    "heads": t.pdf_columns(),
                    "cells": t.pdf_rows(),
                    "more": max(0, len(t.rows) - PDF_ROWS),
                }
                for t in s.tables
            ],
        }
        for s in sections
    ]
    html = render_to_string(
        "compliance/dossier_pdf.html",
        {
            "client": client,
            "name": client.user.get_full_name() or client.user.email,
            "sections": shown,
            "generated_at": generated_at,
            "by": by,
            "pdf_rows": PDF_ROWS,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def _digest(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- services ---------------------------------------------------------------------------------


@transaction.atomic
def dossier_request(*, client_id: int, actor) -> DossierExport:
    """Queue client `client_id`'s dossier for `actor` (a compliance officer)."""
    require_officer(actor, "Only compliance officers export a client's dossier.")
    client = Client.objects.get(pk=client_id)
    export = DossierExport.objects.create(
        client=client,
        requested_by=actor if not isinstance(actor, str) else None,
        actor_label=actor if isinstance(actor, str) else actor.email,
    )
    audit_record(
        actor=actor,
        action=E.DOSSIER_REQUESTED,
        target=export,
        subject=client,
        evidence={"export": export.pk},
    )
    from .tasks import dossier_build_task

    transaction.on_commit(lambda: dossier_build_task.delay_logged(export.pk))  # or its sweeper
    return export


def dossier_export_run(export_id: int) -> DossierExport:
    """Build a queued export (the compliance queue's task; run again, it does nothing)."""
    with transaction.atomic():
        export = DossierExport.objects.select_for_update().get(pk=export_id)
        if export.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return export
        export.status, export.started_at = JobStatus.RUNNING, timezone.now()
        export.save(update_fields=["status", "started_at"])

    def progress(done, total, step):
        DossierExport.objects.filter(pk=export_id).update(done=done, total=total, step=step[:120])

    client = Client.objects.select_related("user").get(pk=export.client_id)
    try:
        with tempfile.NamedTemporaryFile(suffix=".zip", delete=True) as handle:
            built = dossier_write(
                client=client, out=handle, by=export.actor_label, progress=progress
            )
            handle.flush()
            sha256, size = _digest(handle.name)
            handle.seek(0)
            name = f"dossier-client-{client.pk}-{timezone.now():%Y%m%d-%H%M%S}.zip"
            with transaction.atomic():
                export = DossierExport.objects.select_for_update().get(pk=export_id)
                export.file.save(name, File(handle), save=False)
                export.status, export.finished_at = JobStatus.DONE, timezone.now()
                export.sha256, export.size, export.counts = sha256, size, built.counts
                export.step = ""
                export.save()
                audit_record(
                    actor="rule:dossier_export",
                    action=E.DOSSIER_BUILT,
                    target=export,
                    subject=client,
                    evidence={"export": export.pk, "sha256": sha256, "size": size, **built.counts},
                )
    except Exception as exc:
        log.exception("dossier %s failed", export_id)
        DossierExport.objects.filter(pk=export_id).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=f"{type(exc).__name__}: {exc}"[:500],
        )
        raise
    return export


@transaction.atomic
def dossier_downloaded(*, export: DossierExport, actor, request=None) -> None:
    """Record a download: an audit event and a line in the personal-data access log."""
    from clients.access import personal_data_viewed
    from clients.models import PersonalDataView

    require_officer(actor, "Only compliance officers download a client's dossier.")
    audit_record(
        actor=actor,
        action=E.DOSSIER_DOWNLOADED,
        target=export,
        subject=export.client_id,
        evidence={"export": export.pk, "sha256": export.sha256},
        request=request,
    )
    if request is not None:
        personal_data_viewed(
            request=request,
            client_id=export.client_id,
            what=PersonalDataView.What.DOSSIER,
            detail=f"dossier {export.pk}",
        )


def dossier_write_file(*, client_id: int, path: str, actor: str) -> Built:
    """The command line's dossier: written to `path`, audited."""
    client = Client.objects.select_related("user").get(pk=client_id)
    with open(path, "wb") as handle:
        built = dossier_write(client=client, out=handle, by=actor)
    sha256, size = _digest(path)
    audit_record(
        actor=actor,
        action=E.DOSSIER_BUILT,
        target=client,
        subject=client,
        evidence={"file": Path(path).name, "sha256": sha256, "size": size, **built.counts},
    )
    return Built(sha256=sha256, size=size, counts=built.counts)
