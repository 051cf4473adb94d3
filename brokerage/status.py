"""Status colours, defined once: every status a model of the apps can be in has one Bootstrap
colour, on every page and for every audience.

Labels are the model choices' labels (`get_status_display()`): staff never read a raw code.
Templates use `{% status_badge obj %}` (or the `status_tone` filter where the markup is not a
badge) from `brokerage/templatetags/bo.py`. A new status value gets its colour here; a test
walks every model's status and state choices and fails on one without a colour.
"""

SUCCESS, DANGER, WARNING, INFO, PRIMARY, SECONDARY = (
    "success",  # done, and done well
    "danger",  # failed, refused, lost: someone may need to act
    "warning",  # waiting on a person or an outside system
    "info",  # just arrived, nothing to do yet
    "primary",  # under way
    "secondary",  # over, nothing more will happen
)

TONES: dict[str, str] = {
    # Done.
    "active": SUCCESS,
    "adjusted": SUCCESS,
    "applied": SUCCESS,
    "assigned": SUCCESS,
    "approved": SUCCESS,
    "cleared": SUCCESS,
    "completed": SUCCESS,
    "converted": SUCCESS,
    "credited": SUCCESS,
    "live": SUCCESS,  # an AML scenario version in force
    "done": SUCCESS,
    "opened": SUCCESS,
    "paid": SUCCESS,
    "resolved": SUCCESS,  # an alert back under its team's limit
    "sent": SUCCESS,  # a scheduled report emailed
    "settled": SUCCESS,
    "succeeded": SUCCESS,
    "won": SUCCESS,
    # Went wrong.
    "confirmed": DANGER,  # a screening hit confirmed as the listed person: money blocked
    "failed": DANGER,
    "lost": DANGER,
    "notified": DANGER,  # an alert over its team's limit, the heads told
    "refused": DANGER,
    "rejected": DANGER,
    "returned": DANGER,
    "suspended": DANGER,
    # Waiting.
    "awaiting_approval": WARNING,
    "created": WARNING,
    "disputed": WARNING,
    "dismissal_proposed": WARNING,
    "dormant": WARNING,
    "escalated": WARNING,  # an AML case waiting for a second officer
    "in_case": WARNING,  # an AML alert worked in a case
    "in_review": WARNING,
    "open": WARNING,
    "pending": WARNING,
    "withheld": WARNING,
    "resubmission": WARNING,
    # New.
    "answered": INFO,
    "checked": INFO,
    "contacted": INFO,
    "new": INFO,
    "queued": INFO,
    "registered": INFO,
    "requested": INFO,
    "submitted": INFO,
    "uploaded": INFO,
    # Under way.
    "checking": PRIMARY,
    "importing": PRIMARY,
    "investigating": PRIMARY,
    "processing": PRIMARY,
    "qualified": PRIMARY,
    "running": PRIMARY,
    "sending": PRIMARY,  # a scheduled report being rendered and emailed
    # Over.
    "cancelled": SECONDARY,
    "closed": SECONDARY,
    "dismissed": SECONDARY,
    "draft": SECONDARY,
    "expired": SECONDARY,
    "not_client": SECONDARY,
    "released": SECONDARY,
    "reported": SECONDARY,  # an AML case whose suspicious activity report is filed
    "retired": SECONDARY,
    "skipped": SECONDARY,  # a report whose subscriber may no longer open the dashboard
    "stopped": SECONDARY,
    "superseded": SECONDARY,
}


def status_tone(value) -> str:
    """The Bootstrap colour of a status value ("secondary" for one without a colour)."""
    return TONES.get(str(value), SECONDARY)


def status_field(obj) -> str:
    """The name of the object's status field: `status`, else `state`."""
    return "status" if hasattr(obj, "get_status_display") else "state"
