from django.db.models import Count

from .models import Partner


def partner_network(*, partner: Partner):
    """The partner's direct sub-IBs, with how many sub-IBs each has in turn."""
    return (
        Partner.objects.filter(parent=partner)
        .select_related("user")
        .annotate(sub_count=Count("sub_partners"))
        .order_by("-created_at")
    )


def partner_summary() -> dict:
    return Partner.objects.aggregate(total=Count("id"))
