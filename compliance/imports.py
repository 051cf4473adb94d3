"""An officer's list upload, imported in the background with its progress.

`list_import_queue` keeps the uploaded files in storage and queues a `ScreeningJob` of kind
`import` (in the request: nothing is read yet); `list_import_run` (the compliance queue) reads
the files and stores them through `services.snapshot_import`, the one way a list gets in,
with its all-or-nothing reading: a file that cannot be read fails the job with the line or
element named, and nothing is written. Progress: reading the files, then storing the entries.
"""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from brokerage.services import Actor, audit_record

from . import audit_events
from .lists import ListFileError
from .models import JobKind, JobStatus, ScreeningJob
from .permissions import require_officer
from .rescreen import job_progress
from .screening import index_warm_logged
from .services import snapshot_import

STEPS = 2  # the files read, the entries stored


@transaction.atomic
def list_import_queue(
    *,
    fmt: str,
    files: list[tuple[str, bytes]],
    actor,
    list_code: str = "",
    list_name: str = "",
    mapping=None,
) -> ScreeningJob:
    """Keep the files and queue their import (it runs once this commits). Compliance
    officers only."""
    from .tasks import list_import_task

    require_officer(actor, "Only compliance officers import screening lists.")

    folder = f"screening-imports/{uuid.uuid4().hex}"
    kept = [
        {"name": name, "path": default_storage.save(f"{folder}/{name}", ContentFile(data))}
        for name, data in files
    ]
    job = ScreeningJob.objects.create(
        kind=JobKind.IMPORT,
        created_by=actor,
        actor_label=actor.email,
        list_format=fmt,
        files=kept,
        list_code=list_code,
        list_name=list_name,
        mapping=mapping,
        total=STEPS,
        message=f"{len(files)} file{'s' if len(files) != 1 else ''} to read",
    )
    transaction.on_commit(lambda: list_import_task.delay(job.pk), robust=True)
    return job


def list_import_run(*, job_id: int) -> ScreeningJob:
    """Import the job's files (see the module docstring). A job already finished is left as
    it is."""
    job = ScreeningJob.objects.select_related("created_by", "mapping").get(pk=job_id)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job
    job_progress(job, status=JobStatus.RUNNING, started_at=timezone.now(), done=0)
    actor: Actor = job.created_by or job.actor_label
    files = []
    for kept in job.files:
        with default_storage.open(kept["path"], "rb") as handle:
            files.append((kept["name"], handle.read()))

    def read(parsed) -> None:
        job_progress(job, done=1, message=f"Storing {len(parsed.entries):,} entries")

    try:
        snapshot = snapshot_import(
            fmt=job.list_format,
            files=files,
            actor=actor,
            list_code=job.list_code,
            list_name=job.list_name,
            mapping=job.mapping.mapping if job.mapping else None,
            on_read=read,
        )
    except ListFileError as refused:
        with transaction.atomic():
            job_progress(
                job, status=JobStatus.FAILED, message=str(refused)[:500], finished_at=timezone.now()
            )
            audit_record(
                actor=actor,
                action=audit_events.LIST_IMPORT_REFUSED,
                target=job,
                reason=str(refused)[:500],
                evidence={"format": job.list_format, "files": [f["name"] for f in job.files]},
            )
        return job
    index_warm_logged()  # the screenings after the import find the new lists read
    job_progress(
        job,
        status=JobStatus.DONE,
        done=STEPS,
        snapshot=snapshot,
        message=(
            f"{snapshot.entry_count:,} entries: {snapshot.added_count:,} added, "
            f"{snapshot.changed_count:,} changed, {snapshot.removed_count:,} removed"
        ),
        finished_at=timezone.now(),
    )
    return job
