"""The terms clients accept: the client agreement, the risk disclosure and the privacy notice,
each in versions (`clients.models_terms`).

The contract:
- Of a document's versions, the highest whose effective time has come is in force
  (`terms_in_force`). A client must have accepted, of each document, the version in force or
  a later one than the last version that asked for re-acceptance (`terms_due`): a new client
  accepts every document in force at sign-up; a version published with "re-acceptance
  required" is accepted again by everyone before they go on in the portal; one without it
  binds newcomers only.
- `terms_accept` records the client's acceptance of versions in force, once per version:
  when, the IP address and browser, the SHA-256 of the text shown; each acceptance is an
  audit event in the same transaction. A version no longer in force is refused
  (`terms_outdated`).
- `terms_publish` (compliance, `clients.publish_terms`) publishes a new version, audited.
  One that asks for re-acceptance is announced by email to every client in their language
  and recorded in their communication history: on the compliance queue, a task splits the
  clients into batches of ANNOUNCE_BATCH (`terms_announce_batches`) and queues one task per
  batch (`terms_announce_batch`), each telling a client once per version however often it
  runs; a lost task is redone by `terms_announce_sweep`.
- The portal asks for what is due before anything else (`clients.permissions.client_required`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, IntegerField, Max, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from brokerage.audit import client_ip
from brokerage.errors import InvalidInput
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record
from brokerage.statements import Statement

from . import audit_events
from .models import Client, ClientActivity, TermsAcceptance, TermsDocument, TermsVersion

TITLE_MIN, TEXT_MIN, TEXT_MAX = 3, 20, 200_000
ANNOUNCE_BATCH = 200  # clients emailed by one task of an announcement
ANNOUNCE_SWEEP_DAYS = 30
USER_AGENT_MAX = 300


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _in_force(now):
    return (
        TermsVersion.objects.filter(effective_at__lte=now)
        .order_by("document", "-version")
        .distinct("document")
    )


def terms_in_force(*, now=None) -> list[TermsVersion]:
    """The version in force of each document (none for a document never published)."""
    return list(_in_force(now or timezone.now()))


def _standing_rows(v):
    # the last version in force that asked everyone again (the first version binds all)
    floor = (
        TermsVersion.objects.filter(
            document=OuterRef("document"), effective_at__lte=v.now, reacceptance_required=True
        )
        .values("document")
        .annotate(v=Max("version"))
        .values("v")
    )
    mine = TermsAcceptance.objects.filter(
        client_id=v.client_id, terms__document=OuterRef("document")
    ).order_by("-terms__version")
    bound = TermsAcceptance.objects.filter(
        client_id=v.client_id,
        terms__document=OuterRef("document"),
        terms__version__gte=OuterRef("floor"),
    )
    return (
        _in_force(v.now)
        .annotate(floor=Coalesce(Subquery(floor, output_field=IntegerField()), Value(1)))
        .annotate(
            bound=Exists(bound),
            mine_version=Subquery(mine.values("terms__version")[:1]),
            mine_at=Subquery(mine.values("accepted_at")[:1]),
        )
    )


_STANDING = Statement(_standing_rows)  # compiled once per process (brokerage.statements)


def _standing(client, now):
    """The versions in force, each with what `client` accepted of its document: `bound`
    (accepted this version, or one since the last that asked everyone again), and the latest
    version accepted and when (`mine_version`, `mine_at`). One query."""
    rows = _STANDING(client_id=client.pk, now=now)
    order = {code: i for i, code in enumerate(TermsDocument.values)}
    return sorted(rows, key=lambda v: order[v.document])


def terms_due(client, *, now=None) -> list[TermsVersion]:
    """The versions in force `client` must accept before going on, in document order (one
    query). None for an IB partner's account holder (the partner agreement is `ib`'s)."""
    if client.holder != Client.Holder.CLIENT:
        return []
    return [v for v in _standing(client, now or timezone.now()) if not v.bound]


@dataclass(frozen=True)
class Accepted:
    """A client's acceptance of one document, as the 360 and the portal show it."""

    document: str
    label: str
    version: int | None  # the latest the client accepted
    accepted_at: dt.datetime | None
    in_force: int  # the version in force
    due: bool


def terms_summary(client) -> list[Accepted]:
    """Each document in force: the latest version the client accepted and when, the version in
    force, and whether the client must accept it (one query)."""
    labels = dict(TermsDocument.choices)
    return [
        Accepted(
            v.document,
            labels[v.document],
            v.mine_version,
            v.mine_at,
            v.version,
            not v.bound,
        )
        for v in _standing(client, timezone.now())
    ]


# --- services ---------------------------------------------------------------------------------


@transaction.atomic
def terms_accept(*, client, version_ids, actor: Actor, request=None) -> list[TermsAcceptance]:
    """`client` accepts the versions `version_ids` (each in force now); an acceptance already
    recorded is returned as it is. Each new one is audited with the client as subject."""
    ids = sorted({int(i) for i in version_ids})
    in_force = {v.pk: v for v in terms_in_force()}
    stale = [i for i in ids if i not in in_force]
    if stale:
        raise InvalidInput(
            "A newer version of our terms is in force: read it and accept that one.",
            code="terms_outdated",
        )
    ip = client_ip(request)
    agent = (request.META.get("HTTP_USER_AGENT", "") if request else "").replace("\x00", "")
    agent = agent[:USER_AGENT_MAX]
    out = []
    for pk in ids:
        version = in_force[pk]
        acceptance, created = TermsAcceptance.objects.get_or_create(
            client=client,
            terms=version,
            defaults={
                "accepted_at": timezone.now(),
                "ip": ip,
                "user_agent": agent,
                "text_sha256": version.text_sha256,
            },
        )
        if created:
            audit_record(
                actor=actor,
                action=audit_events.TERMS_ACCEPTED,
                target=acceptance,
                subject=client,
                evidence={
                    "document": version.document,
                    "version": version.version,
                    "text_sha256": version.text_sha256,
                    "user_agent": agent,
                },
                request=request,
            )
        out.append(acceptance)
    return out


def terms_accept_in_force(*, client, actor: Actor, request=None) -> list[TermsAcceptance]:
    """`client` accepts every version now in force (a client who signed up elsewhere: the
    demo's, a migration's)."""
    return terms_accept(
        client=client, version_ids=[v.pk for v in terms_in_force()], actor=actor, request=request
    )


def _label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.email


@transaction.atomic
def terms_publish(
    *,
    document: str,
    title: str,
    text: str,
    changes: str = "",
    effective_at=None,
    reacceptance_required: bool = True,
    actor: Actor,
) -> TermsVersion:
    """Publish the next version of `document`, taking effect at `effective_at` (now if none,
    never in the past nor before the latest version's), audited. One asking for re-acceptance
    is announced to the clients after commit."""
    actor_require(
        actor, "clients.publish_terms", "Only compliance publishes a new version of our terms."
    )
    now = timezone.now()
    if document not in TermsDocument.values:
        raise InvalidInput("Choose a document.", fields={"document": ["Unknown document."]})
    title, text, changes = (title or "").strip(), (text or "").strip(), (changes or "").strip()
    errors = {}
    if len(title) < TITLE_MIN or len(title) > 140:
        errors["title"] = [f"Between {TITLE_MIN} and 140 characters."]
    if len(text) < TEXT_MIN:
        errors["text"] = [f"Write the text (at least {TEXT_MIN} characters)."]
    elif len(text) > TEXT_MAX:
        errors["text"] = [f"At most {TEXT_MAX:,} characters."]
    effective_at = effective_at or now
    if effective_at < now - dt.timedelta(minutes=1):
        errors["effective_at"] = ["It cannot take effect in the past."]
    latest = (
        TermsVersion.objects.select_for_update()
        .filter(document=document)
        .order_by("-version")
        .first()
    )
    if latest is not None:
        if not changes:
            errors["changes"] = ["Say what changed: clients asked again read it first."]
        if latest.text == text:
            errors["text"] = ["This is the text of the latest version already."]
        if effective_at < latest.effective_at:
            errors["effective_at"] = [
                f"Version {latest.version} takes effect on "
                f"{latest.effective_at:%Y-%m-%d %H:%M} UTC: this one cannot take effect before."
            ]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    try:
        with transaction.atomic():
            version = TermsVersion.objects.create(
                document=document,
                version=(latest.version if latest else 0) + 1,
                title=title,
                text=text,
                changes=changes,
                text_sha256=text_sha256(text),
                effective_at=effective_at,
                reacceptance_required=reacceptance_required,
                published_at=now,
                published_by=_label(actor)[:254],
            )
    except IntegrityError as exc:  # a twin published the same version number first
        raise InvalidInput(
            "Someone published a version of this document at the same moment: look again.",
            code="terms_conflict",
        ) from exc
    audit_record(
        actor=actor,
        action=audit_events.TERMS_PUBLISHED,
        target=version,
        evidence={
            "document": document,
            "version": version.version,
            "title": title,
            "text_sha256": version.text_sha256,
            "effective_at": version.effective_at.isoformat(),
            "reacceptance_required": reacceptance_required,
        },
    )
    if reacceptance_required and latest is not None:
        from .tasks import terms_announce_task

        transaction.on_commit(lambda: terms_announce_task.delay_logged(version.pk))
    return version


def _announce_key(version_id: int, client_id: int) -> str:
    return f"terms:{version_id}:{client_id}"


def terms_announce_batches(*, version_id: int) -> list[tuple[int, int]]:
    """The clients still to be told of version `version_id`, as ranges of client ids (first,
    last) of at most ANNOUNCE_BATCH clients each: one task per range."""
    version = TermsVersion.objects.get(pk=version_id)
    ranges, after = [], 0
    while batch := _pending(version, after=after):
        ranges.append((batch[0], batch[-1]))
        after = batch[-1]
    return ranges


def terms_announce_batch(*, version_id: int, first: int, last: int) -> int:
    """Email the clients with ids from `first` to `last` not yet told of version `version_id`,
    in their language, each recorded in their history under the version's key (sent once that
    transaction commits): a client is told once per version, however often the batch runs,
    twins included. Returns how many were told now."""
    from .notify import client_notify

    version = TermsVersion.objects.get(pk=version_id)
    context = {
        "title": version.title,
        "version": version.version,
        "effective_at": version.effective_at.date(),
        "changes": version.changes,
    }
    pending = _pending(version, after=first - 1, upto=last)
    count = 0
    with transaction.atomic():
        for client in Client.objects.filter(pk__in=pending).select_related("user").order_by("pk"):
            told = client_notify(
                client,
                email="terms_updated",
                key=_announce_key(version_id, client.pk),
                actor="rule:terms_publish",
                url_name="portal:terms",
                context=context,
                data={"terms": version.pk},
            )
            count += told is not None
    return count


def terms_announce(*, version_id: int) -> int:
    """Every batch of version `version_id`'s announcement, one after another in this process
    (the task queues one task per batch instead); returns how many were told now."""
    return sum(
        terms_announce_batch(version_id=version_id, first=first, last=last)
        for first, last in terms_announce_batches(version_id=version_id)
    )


def _pending(version: TermsVersion, *, after: int = 0, upto: int | None = None) -> list[int]:
    """The first ANNOUNCE_BATCH clients after `after` (up to `upto`), registered before the
    version and not closed, who neither accepted it nor were told of it."""
    told = ClientActivity.objects.filter(
        event_key=Concat(Value(f"terms:{version.pk}:"), Cast(OuterRef("pk"), CharField()))
    )
    accepted = TermsAcceptance.objects.filter(client_id=OuterRef("pk"), terms=version)
    clients = Client.objects.filter(
        holder=Client.Holder.CLIENT, pk__gt=after, created_at__lt=version.published_at
    )
    if upto is not None:
        clients = clients.filter(pk__lte=upto)
    return list(
        clients.exclude(status=Client.Status.CLOSED)
        .filter(~Exists(told), ~Exists(accepted))
        .order_by("pk")
        .values_list("pk", flat=True)[:ANNOUNCE_BATCH]
    )


def terms_announce_sweep(*, now=None) -> list[int]:
    """The versions of the last days asking for re-acceptance that some client was not told
    of (a lost task): their ids, for the task to announce again."""
    now = now or timezone.now()
    recent = TermsVersion.objects.filter(
        reacceptance_required=True,
        version__gt=1,
        published_at__gte=now - dt.timedelta(days=ANNOUNCE_SWEEP_DAYS),
    ).order_by("pk")
    return [v.pk for v in recent if _pending(v)]


def terms_acceptances(client) -> list[TermsAcceptance]:
    return list(
        TermsAcceptance.objects.filter(client=client)
        .select_related("terms")
        .order_by("accepted_at", "id")
    )


# --- the client 360 and the dossier ------------------------------------------------------------


def terms_360(client, user):
    """The client 360's section: each document, the version the client accepted and when,
    and whether a version in force waits for them (three queries)."""
    from .client360 import Contribution, Section

    if client.holder != Client.Holder.CLIENT:  # a partner accepts the partner agreement (ib)
        return Contribution()
    summary = terms_summary(client)
    waiting = sum(1 for a in summary if a.due)
    return Contribution(
        sections=[
            Section(
                "terms",
                "Terms accepted",
                "clients/360/_terms.html",
                {"summary": summary},
                order=27,
                column="side",
                icon="file-earmark-check",
                badge=f"{waiting} to accept" if waiting else "",
            )
        ]
    )


def terms_dossier_section(client):
    """The dossier's "agreements accepted": each acceptance (document, version, time, IP
    address, browser, the SHA-256 of the text shown) and the text of each version accepted."""
    from brokerage.dossier import DossierSection, table

    accepted = TermsAcceptance.objects.filter(client=client).order_by("accepted_at", "id")
    texts = TermsVersion.objects.filter(acceptances__client=client).distinct().order_by("pk")
    return DossierSection(
        key="agreements",
        title="Agreements accepted",
        order=15,
        tables=[
            table(
                "agreements_accepted",
                "Agreements accepted",
                accepted,
                [
                    ("Accepted (UTC)", "accepted_at"),
                    ("Document", "terms__document"),
                    ("Version", "terms__version"),
                    ("Title", "terms__title"),
                    ("In effect from (UTC)", "terms__effective_at"),
                    ("IP address", "ip"),
                    ("Browser", "user_agent"),
                    ("SHA-256 of the text shown", "text_sha256"),
                ],
            ),
            table(
                "agreement_texts",
                "The texts accepted",
                texts,
                [
                    ("Document", "document"),
                    ("Version", "version"),
                    ("Title", "title"),
                    ("Published (UTC)", "published_at"),
                    ("Published by", "published_by"),
                    ("What changed", "changes"),
                    ("SHA-256", "text_sha256"),
                    ("Text", "text"),
                ],
            ),
        ],
    )
