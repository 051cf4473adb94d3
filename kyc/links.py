"""What kyc tells the links between clients (`clients.links`, hook `client.links`): two clients
who gave the same name and date of birth, as on an identity document, in their submissions."""

from django.db.models import CharField, F, QuerySet
from django.db.models.functions import Cast

from clients.links import LinkSource

from .models import KycSubmission, name_dob_key


def _name_dob_rows() -> QuerySet:
    return (
        KycSubmission.objects.filter(date_of_birth__isnull=False)
        .exclude(first_name="")
        .exclude(last_name="")
        .annotate(
            link_client=F("client_id"),
            link_key=name_dob_key(),  # as indexed
            link_detail=Cast("date_of_birth", CharField()),
        )
    )


NAME_DOB = LinkSource(
    "name_dob", _name_dob_rows, lambda born: "Same name and date of birth", order=50
)
