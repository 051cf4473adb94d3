"""Every email leaves through `brokerage.mail`, whose header values are one line each."""

import ast
import pathlib

import pytest
from django.core import mail

from brokerage.mail import email_send, header_value

APPS = ["brokerage", "clients", "compliance", "finance", "ib", "kyc", "leads", "demo"]
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Card declined", "Card declined"),
        ("Card\r\ndeclined", "Card declined"),
        ("Card \n\n declined\r", "Card declined"),
        ("a\x0bb\x0cc\x1cd\x85e\u2028f\u2029g", "a b c d e f g"),
        ("\r\nBcc: x@example.com", "Bcc: x@example.com"),
        (None, ""),
    ],
)
def test_header_values_are_one_line(raw, clean):
    assert header_value(raw) == clean


def test_email_send_makes_every_header_one_line():
    mail.outbox.clear()
    email_send(
        subject="Hello\r\nBcc: victim@example.com",
        body="Line one\nline two",
        to=["nora@test.example\r\n"],
        from_email="Brokerage\n <no-reply@brokerage.example>",
    )
    [sent] = mail.outbox
    assert sent.subject == "Hello Bcc: victim@example.com" and sent.bcc == []
    assert sent.to == ["nora@test.example"]
    assert sent.from_email == "Brokerage <no-reply@brokerage.example>"
    assert sent.body == "Line one\nline two"  # bodies keep their lines


def test_no_module_sends_email_around_the_seam():
    """`django.core.mail`'s senders are used only in brokerage/mail.py: a new email that
    called them directly would send a subject with a line break as a 500."""
    senders = {"send_mail", "send_mass_mail", "EmailMessage", "EmailMultiAlternatives"}
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if (
                path.relative_to(ROOT).as_posix() == "brokerage/mail.py"
                or "migrations" in path.parts
            ):
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "django.core.mail":
                    names = {alias.name for alias in node.names} & senders
                    if names:
                        offenders.append(f"{path.relative_to(ROOT)}: {sorted(names)}")
    assert not offenders, "send email through brokerage.mail.email_send: " + "; ".join(offenders)
