from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Client


def client_for_user(user) -> Client | None:
    return Client.objects.filter(user=user).select_related("user").first()


def client_for_email(email: str) -> Client | None:
    if not email:
        return None
    return Client.objects.filter(user__email=email.lower()).first()


def client_signups_per_day(*, days: int = 14) -> list[dict]:
    start = (timezone.now() - timezone.timedelta(days=days - 1)).date()
    rows = (
        Client.objects.filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {r["day"]: r["n"] for r in rows}
    days_list = [start + timezone.timedelta(days=i) for i in range(days)]
    return [{"day": d.isoformat(), "count": counts.get(d, 0)} for d in days_list]


def client_summary() -> dict:
    week_ago = timezone.now() - timezone.timedelta(days=7)
    return Client.objects.aggregate(
        total=Count("id"), new_7d=Count("id", filter=Q(created_at__gte=week_ago))
    )
