"""The emails clients are sent: one catalogue, one template folder, a translation that covers
them, and the back-office page where compliance and ops review each one rendered."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.html import escape

from clients.emails import EMAILS, FOLDER, email_languages, email_preview
from tests.conftest import login, make_client_user, make_staff

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates" / FOLDER


def test_the_catalogue_and_the_template_folder_name_the_same_emails():
    folders = {p.name for p in TEMPLATES.iterdir() if p.is_dir()}
    assert folders == set(EMAILS)
    for name in EMAILS:
        assert {p.name for p in (TEMPLATES / name).iterdir()} == {"subject.txt", "message.txt"}


@pytest.mark.parametrize("name", sorted(EMAILS))
def test_each_email_renders_its_sample_in_english_and_in_spanish(name):
    english, spanish = email_preview(name), email_preview(name, language="es")
    for rendered in (english, spanish):
        assert rendered.subject and "\n" not in rendered.subject
        assert "{{" not in rendered.text and "{%" not in rendered.text
        assert rendered.html.startswith("<!doctype html>") and "Alex" in rendered.html
    assert english.text.startswith("Hello Alex,") and spanish.text.startswith("Hola, Alex:")
    # The whole email is translated: subject and message.
    assert spanish.subject != english.subject or name == "ticket_answered"  # "Re: [#1042] ..."
    message = english.text.split("\n\n")[1]
    assert message not in spanish.text
    assert 'lang="es"' in spanish.html and 'lang="en"' in english.html


def test_the_spanish_catalogue_is_complete_and_compiled(tmp_path):
    po = ROOT / "locale/es/LC_MESSAGES/django.po"
    assert 'msgstr ""\n\n' not in po.read_text().split("\n\n", 1)[1] + "\n"
    assert dict(email_languages()) == {"en": "English", "es": "Spanish"}
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("gettext's msgfmt is not installed")
    subprocess.run([msgfmt, "-o", tmp_path / "django.mo", po], check=True)  # noqa: S603
    assert (tmp_path / "django.mo").read_bytes() == po.with_suffix(".mo").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["compliance_officer", "ops_admin"])
def test_compliance_and_ops_review_every_email(client, role, django_assert_max_num_queries):
    login(client, make_staff(role))
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/clients/emails/")
    assert page.status_code == 200
    html = page.content.decode()
    for email in EMAILS.values():
        assert f'data-email="{email.name}"' in html and escape(email.label) in html
    page = client.get("/backoffice/clients/emails/kyc_rejected/?language=es")
    html = page.content.decode()
    assert page.status_code == 200
    assert "No hemos podido verificar su identidad" in html
    assert escape("The passport photo does not match the selfie.") in html
    assert "<iframe" in html and "sandbox" in html
    frame = client.get("/backoffice/clients/emails/kyc_rejected/html/?language=es")
    assert frame.status_code == 200 and frame["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'none'" in frame["Content-Security-Policy"]
    assert "Abrir el portal de clientes" in frame.content.decode()
    assert (
        "Your identity is verified"
        in client.get("/backoffice/clients/emails/kyc_approved/?language=xx").content.decode()
    )  # an unknown language: English
    assert client.get("/backoffice/clients/emails/no_such_email/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "desk_manager"])
def test_other_roles_and_clients_may_not_review_emails(client, role):
    login(client, make_staff(role))
    assert client.get("/backoffice/clients/emails/").status_code == 403
    assert client.get("/backoffice/clients/emails/kyc_approved/").status_code == 403
    assert client.get("/backoffice/clients/emails/kyc_approved/html/").status_code == 403


@pytest.mark.django_db
def test_clients_and_visitors_may_not_review_emails(client):
    assert client.get("/backoffice/clients/emails/").status_code == 302
    login(client, make_client_user())
    assert client.get("/backoffice/clients/emails/kyc_approved/").status_code == 403
