"""The one place the product sends email from.

Everything that becomes a header (the subject, the sender, the recipients) passes through
`header_value`: a line break in a header would end it and start another (header injection),
and Django refuses such a message outright (`BadHeaderError`), so one ticket subject typed with
a line break would stop every email about that ticket. Line breaks, and the other characters
Python's email package treats as line ends, become single spaces. Bodies are left as written.
"""

import re

from django.core.mail import EmailMultiAlternatives

# CR, LF and the other line boundaries of str.splitlines(), with any space around them.
_LINE_BREAKS = re.compile(r"\s*[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+\s*")


def header_value(value) -> str:
    """`value` as one header line: line breaks become one space, ends trimmed."""
    return _LINE_BREAKS.sub(" ", str(value or "")).strip()


def email_send(
    *,
    subject: str,
    body: str,
    to: list[str],
    from_email: str | None = None,
    reply_to: list[str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None,
) -> int:
    """Send a plain-text email, with `html` as its HTML alternative when given and each of
    `attachments` (file name, content, MIME type) attached (from DEFAULT_FROM_EMAIL unless
    told); every header value is made one line first."""
    message = EmailMultiAlternatives(
        subject=header_value(subject),
        body=body,
        from_email=header_value(from_email) or None,
        to=[header_value(address) for address in to],
        reply_to=[header_value(address) for address in reply_to or []],
    )
    if html:
        message.attach_alternative(html, "text/html")
    for name, content, mimetype in attachments or []:
        message.attach(header_value(name), content, mimetype)
    return message.send()
