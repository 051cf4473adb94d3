"""A probe API with a body, built the way every /api/v1/ router is, to test the error contract."""

from django.urls import path
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError

from brokerage.api import ApiKeyAuth, idempotent, install_error_handlers
from brokerage.errors import InvalidInput
from brokerage.models import Desk
from brokerage.urls import urlpatterns as product_urls

probe = install_error_handlers(NinjaAPI(auth=ApiKeyAuth(), urls_namespace="probe"))


class Body(Schema):
    name: str
    count: int


@probe.post("/things")
def create_thing(request, payload: Body):
    if payload.name == "taken":
        raise InvalidInput("That name is taken.", code="name_taken", fields={"name": ["Taken."]})
    if payload.name == "boom":
        raise RuntimeError("unexpected")
    if payload.name == "teapot":
        raise HttpError(403, "Not for you.")
    return {"name": payload.name, "count": payload.count}


class Desked(Schema):
    id: int
    name: str
    count: int


@probe.post("/desks", response={201: Desked})
@idempotent
def create_desk(request, payload: Body):
    """Writes a row, so a test can count how often it really ran."""
    if payload.name == "taken":
        raise InvalidInput("That name is taken.", code="name_taken")
    desk = Desk.objects.create(name=f"{payload.name} {Desk.objects.count() + 1}")
    return Status(201, {"id": desk.pk, "name": desk.name, "count": payload.count})


@probe.put("/desks/{desk_id}")
@idempotent
def rename_desk(request, desk_id: int, payload: Body):
    Desk.objects.filter(pk=desk_id).update(name=payload.name)
    return {"id": desk_id, "name": payload.name}


urlpatterns = [path("api/probe/", probe.urls), *product_urls]
