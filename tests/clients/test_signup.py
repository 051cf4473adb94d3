"""clients alone hears allauth's sign-up and tells the apps above with its own signals: once at
sign-up (address not proven) and once when the address is proven, as plain data."""

import json

import pytest
from allauth.account.models import EmailAddress
from django.test import RequestFactory

from brokerage.models import User
from clients.models import Client
from clients.receivers import on_email_confirmed, on_user_signed_up
from clients.signals import signed_up, signup_verified
from leads.models import Lead
from tests.conftest import make_staff
from tests.ib.conftest import confirm_email, signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What the sign-up signals said, in order: [(signal name, kwargs), ...]."""
    said = []

    def on_signed_up(sender, **kwargs):
        said.append(("signed_up", kwargs))

    def on_verified(sender, **kwargs):
        said.append(("signup_verified", kwargs))

    signed_up.connect(on_signed_up, weak=False, dispatch_uid="test.heard.signed_up")
    signup_verified.connect(on_verified, weak=False, dispatch_uid="test.heard.verified")
    yield said
    signed_up.disconnect(dispatch_uid="test.heard.signed_up")
    signup_verified.disconnect(dispatch_uid="test.heard.verified")


def test_a_client_signup_is_told_once_then_once_more_when_the_address_is_proven(client, heard):
    client.get("/r/ibtest01")
    signup(client, "Nora@Example.com", net_worth_usd="25000")
    assert [name for name, _ in heard] == ["signed_up"]
    said = heard[0][1]
    assert said["kind"] == "client" and said["user"].email == "nora@example.com"
    assert said["email"] == "nora@example.com" and said["referral_code"] == "IBTEST01"
    assert said["profile"] == {
        "first_name": "Nora",
        "last_name": "Ng",
        "country": "GB",
        "phone": "+447911123456",
        "language": "en",
        "experience": "some",
        "net_worth_usd": "25000",
    }
    json.dumps(said["profile"])  # plain data

    confirm_email(client, "nora@example.com")
    assert [name for name, _ in heard] == ["signed_up", "signup_verified"]
    said = heard[1][1]
    assert said["kind"] == "client" and said["email"] == "nora@example.com"
    assert said["profile"] == {
        "first_name": "Nora",
        "last_name": "Ng",
        "country": "GB",
        "phone": "+447911123456",
        "language": "en",
    }


def test_a_partner_signup_makes_no_client_and_no_lead(heard):
    """A partner's public sign-up form marks the user `signup_kind = "partner"`: ib makes it a
    partner-to-be (its own account holder), never a trading client or a lead."""
    from ib.models import Partner, Programme

    programme = Programme.objects.create(name="Open", registration="public")
    user = User.objects.create_user(email="ivy@example.com", password="a-long-pass-phrase")
    user.signup_kind = "partner"
    user.signup_profile = {"first_name": "Ivy", "country": "GB", "programme": programme.pk}
    on_user_signed_up(sender=User, request=RequestFactory().get("/"), user=user)
    assert [(name, said["kind"]) for name, said in heard] == [("signed_up", "partner")]
    assert not Client.objects.filter(holder=Client.Holder.CLIENT).exists()
    assert not Lead.objects.exists()
    assert Partner.objects.get(user=user).status == "pending"


def test_an_address_proven_at_signup_is_verified_at_once(heard):
    user = User.objects.create_user(email="eli@example.com", password="a-long-pass-phrase")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    user.signup_profile = {"first_name": "Eli", "country": "GB"}
    on_user_signed_up(sender=User, request=RequestFactory().get("/"), user=user)
    assert [name for name, _ in heard] == ["signed_up", "signup_verified"]
    assert Lead.objects.get(email="eli@example.com").client.user == user


def test_other_confirmations_are_not_a_signup(heard):
    staff = make_staff("sales_agent")
    request = RequestFactory().get("/")
    on_email_confirmed(
        sender=None, request=request, email_address=EmailAddress.objects.get(user=staff)
    )
    user = User.objects.create_user(email="zed@example.com", password="a-long-pass-phrase")
    second = EmailAddress.objects.create(user=user, email="zed.work@example.com", verified=True)
    on_email_confirmed(sender=None, request=request, email_address=second)
    assert heard == []


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("nl-NL,nl;q=0.9,de;q=0.7,en;q=0.8", "en"),  # Dutch is not offered: English before German
        ("de;q=0.5,fr", "fr"),
        ("xx, ;q=abc", "en"),
        ("", "en"),
    ],
)
def test_the_sign_up_form_preselects_the_language_the_browser_asks_for(client, header, chosen):
    page = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE=header)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<option value="{chosen}" selected>' in html
