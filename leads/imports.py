"""CSV import of leads: upload, column mapping, dry run with a row-by-row report, then apply.

Long work runs in Celery; progress lives in Redis (the import itself is one transaction, so
nothing half-imported is ever visible, and progress must be readable from outside it).
"""

import csv
import io
import os

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.services import audit_record
from leads import audit_events

from .models import Channel, LeadImport
from .services import lead_capture
from .validation import FIELDS, clean_lead_input

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS_KEPT = 1000
PROGRESS_EVERY = 250
ALIASES = {
    "first_name": ["first name", "firstname", "first", "given name", "name"],
    "last_name": ["last name", "lastname", "surname", "family name"],
    "email": ["email", "e-mail", "email address", "mail"],
    "phone": ["phone", "phone number", "mobile", "telephone", "tel"],
    "country": ["country", "country code", "iso country"],
    "language": ["language", "lang"],
    "experience": ["experience", "trading experience"],
    "net_worth_usd": ["net worth", "net worth usd", "networth"],
    "annual_income_usd": ["annual income", "income", "annual income usd"],
    "source": ["source", "lead source"],
    "utm_source": ["utm source", "utm_source"],
    "utm_medium": ["utm medium", "utm_medium"],
    "utm_campaign": ["utm campaign", "utm_campaign", "campaign"],
    "referral_code": ["referral code", "ib code", "affiliate code"],
}


def _progress_key(lead_import_id: int) -> str:
    return f"lead_import:{lead_import_id}:progress"


def progress(lead_import: LeadImport) -> int:
    """Percent done of the running step (0-100)."""
    if lead_import.state in (
        LeadImport.State.CHECKED,
        LeadImport.State.DONE,
        LeadImport.State.REFUSED,
    ):
        return 100
    done = cache.get(_progress_key(lead_import.pk), 0)
    return min(99, int(100 * done / lead_import.total_rows)) if lead_import.total_rows else 0


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise InvalidInput(
            "This is not a CSV file (it contains binary data).",
            fields={"file": ["Not a CSV file."]},
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("The file is not UTF-8 text.", fields={"file": ["Save it as UTF-8 CSV."]})


def _normalise_header(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").split())


def guess_mapping(headers: list[str]) -> dict:
    mapping = {}
    normalised = {_normalise_header(h): h for h in headers}
    for field in FIELDS:
        for alias in [field.replace("_", " "), *ALIASES.get(field, [])]:
            if alias in normalised and normalised[alias] not in mapping.values():
                mapping[field] = normalised[alias]
                break
    return mapping


@transaction.atomic
def lead_import_upload(*, actor, uploaded_file) -> LeadImport:
    name = os.path.basename(uploaded_file.name or "leads.csv")[:200]
    if uploaded_file.size == 0:
        raise InvalidInput("The file is empty.", fields={"file": ["Empty file."]})
    if uploaded_file.size > MAX_BYTES:
        raise InvalidInput("Files are at most 20 MB; split it.", fields={"file": ["Too large."]})
    raw = uploaded_file.read()
    text = _decode(raw)
    try:
        reader = csv.reader(io.StringIO(text))
        headers = next(reader, None)
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise InvalidInput(
            f"The CSV could not be read: {exc}.", fields={"file": ["Bad CSV."]}
        ) from exc
    headers = [h.strip() for h in headers or [] if h is not None]
    if not headers or not any(headers):
        raise InvalidInput(
            "The first row must name the columns.", fields={"file": ["No header row."]}
        )
    if len(set(headers)) != len(headers):
        raise InvalidInput(
            "Two columns have the same name.", fields={"file": ["Duplicate header."]}
        )
    if rows == 0:
        raise InvalidInput("The file has a header but no rows.", fields={"file": ["No rows."]})
    if rows > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS:,} rows per file.", fields={"file": ["Too many."]})
    lead_import = LeadImport(
        filename=name,
        uploaded_by=actor,
        headers=headers,
        mapping=guess_mapping(headers),
        total_rows=rows,
    )
    lead_import.file.save(f"{timezone.now():%Y%m%d%H%M%S}.csv", ContentFile(raw), save=False)
    lead_import.save()
    audit_record(
        actor=actor,
        action=audit_events.LEAD_IMPORT_UPLOADED,
        target=lead_import,
        evidence={"filename": name, "rows": rows},
    )
    return lead_import


def _rows(lead_import: LeadImport):
    with lead_import.file.open("rb") as fh:
        text = _decode(fh.read())
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [(name or "").strip() for name in reader.fieldnames or []]  # as mapped
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        data = {field: (row.get(column) or "") for field, column in lead_import.mapping.items()}
        if lead_import.source and not data.get("source"):
            data["source"] = lead_import.source
        yield number, data


@transaction.atomic
def lead_import_set_mapping(
    *, lead_import: LeadImport, actor, mapping: dict, source: str, mode: str
) -> LeadImport:
    if lead_import.state in (LeadImport.State.IMPORTING, LeadImport.State.DONE):
        raise InvalidInput("This import has already run.")
    unknown = {f for f in mapping if f not in FIELDS}
    missing_cols = {c for c in mapping.values() if c not in lead_import.headers}
    if unknown or missing_cols:
        raise InvalidInput("The mapping names unknown fields or columns.")
    if not ({"email", "phone"} & set(mapping)):
        raise InvalidInput(
            "Map at least the email or the phone column.",
            fields={"mapping": ["Email or phone is needed."]},
        )
    if mode not in LeadImport.Mode.values:
        raise InvalidInput("Unknown mode.", fields={"mode": ["Choose a mode."]})
    lead_import.mapping, lead_import.source, lead_import.mode = mapping, source[:60], mode
    lead_import.state = LeadImport.State.CHECKING
    lead_import.save()
    from .tasks import lead_import_check_task

    lead_import_check_task.delay_on_commit(lead_import.pk)
    return lead_import


def lead_import_check(*, import_id: int) -> LeadImport:
    """The dry run: validate every row, count duplicates, keep the errors. Writes no lead."""
    from .models import Lead

    lead_import = LeadImport.objects.get(pk=import_id)
    errors, preview, valid, seen = [], [], 0, set()
    duplicates = 0
    cache.set(_progress_key(import_id), 0, 3600)
    for i, (number, data) in enumerate(_rows(lead_import), start=1):
        try:
            clean = clean_lead_input(data)
        except InvalidInput as exc:
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append({"row": number, "fields": exc.fields})
        else:
            valid += 1
            key = clean["email"] or clean["phone"]
            if key in seen:
                duplicates += 1
            seen.add(key)
            if len(preview) < 20:
                preview.append(
                    {
                        "row": number,
                        **{k: str(v) for k, v in clean.items() if v not in (None, "", False)},
                    }
                )
        if i % PROGRESS_EVERY == 0:
            cache.set(_progress_key(import_id), i, 3600)
    emails = {k for k in seen if "@" in k}
    existing = Lead.objects.filter(email__in=emails).count() if emails else 0
    error_rows = lead_import.total_rows - valid
    LeadImport.objects.filter(pk=import_id).update(
        state=LeadImport.State.CHECKED,
        valid_rows=valid,
        error_rows=error_rows,
        errors=errors,
        preview=preview,
        duplicate_count=duplicates + existing,
        message=f"{valid:,} valid rows, {error_rows:,} with errors, "
        f"{duplicates + existing:,} already known (they will be recorded as new touches).",
    )
    return LeadImport.objects.get(pk=import_id)


@transaction.atomic
def lead_import_start(*, lead_import: LeadImport, actor) -> LeadImport:
    lead_import = LeadImport.objects.select_for_update().get(pk=lead_import.pk)
    if lead_import.state != LeadImport.State.CHECKED:
        raise InvalidInput("Run the dry run first.")
    if lead_import.mode == LeadImport.Mode.ALL_OR_NOTHING and lead_import.error_rows:
        raise InvalidInput(
            f"{lead_import.error_rows:,} rows have errors: fix the file, or choose to skip "
            "invalid rows.",
            code="rows_invalid",
        )
    lead_import.state = LeadImport.State.IMPORTING
    lead_import.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=audit_events.LEAD_IMPORT_STARTED,
        target=lead_import,
        evidence={"mode": lead_import.mode, "rows": lead_import.valid_rows},
    )
    from .tasks import lead_import_apply_task

    lead_import_apply_task.delay_on_commit(lead_import.pk)
    return lead_import


def lead_import_apply(*, import_id: int) -> LeadImport:
    """Apply in one transaction: all the (valid) rows, or none if anything fails."""
    lead_import = LeadImport.objects.select_related("uploaded_by").get(pk=import_id)
    if lead_import.state != LeadImport.State.IMPORTING:
        return lead_import  # a repeated task: already applied or refused
    actor = lead_import.uploaded_by
    created = duplicates = 0
    cache.set(_progress_key(import_id), 0, 3600)
    try:
        with transaction.atomic():
            for i, (_number, data) in enumerate(_rows(lead_import), start=1):
                try:
                    clean = clean_lead_input(data)
                except InvalidInput:
                    if lead_import.mode == LeadImport.Mode.ALL_OR_NOTHING:
                        raise
                    continue
                _lead, is_new = lead_capture(data=clean, channel=Channel.IMPORT, actor=actor)
                created += is_new
                duplicates += not is_new
                if i % PROGRESS_EVERY == 0:
                    cache.set(_progress_key(import_id), i, 3600)
            LeadImport.objects.filter(pk=import_id).update(
                state=LeadImport.State.DONE,
                created_count=created,
                duplicate_count=duplicates,
                finished_at=timezone.now(),
                message=f"{created:,} leads created, {duplicates:,} duplicates recorded as "
                "touches on existing leads.",
            )
            audit_record(
                actor=actor,
                action=audit_events.LEAD_IMPORT_APPLIED,
                target=lead_import,
                evidence={"created": created, "duplicates": duplicates},
            )
    except InvalidInput:
        LeadImport.objects.filter(pk=import_id).update(
            state=LeadImport.State.REFUSED,
            finished_at=timezone.now(),
            message="A row turned out invalid; nothing was imported.",
        )
    except Exception:
        LeadImport.objects.filter(pk=import_id).update(
            state=LeadImport.State.FAILED,
            finished_at=timezone.now(),
            message="The import failed and was rolled back; nothing was imported.",
        )
        raise
    return LeadImport.objects.get(pk=import_id)
