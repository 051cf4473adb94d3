"""A probe API with a body, built the way every /api/v1/ router is, to test the error contract."""

from django.urls import path
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError

from brokerage.api import ApiKeyAuth, install_error_handlers
from brokerage.errors import InvalidInput
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


urlpatterns = [path("api/probe/", probe.urls), *product_urls]
