"""What a jurisdiction rule imposed on each client: one `RuleApplication` per (client, rule)
while it applies, kept after it is lifted. A rule's start (or a client's country or nationality
changing into it) opens one; its end (or the client no longer matching) lifts exactly that
one and nothing else: another rule, a sanctions block or a manual restriction on the same
client stays as it was."""

from django.db import models
from django.db.models import Q

from .models_jobs import JobProgress, JobStatus


class AppliedVia(models.TextChoices):
    RESIDENCE = "residence", "Country of residence"
    NATIONALITY = "nationality", "Nationality"


class RuleApplication(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(
        "brokerage.CountryRule", on_delete=models.PROTECT, related_name="applications"
    )
    via = models.CharField(max_length=12, choices=AppliedVia.choices)
    applied_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "rule"],
                condition=Q(lifted_at__isnull=True),
                name="rule_application_open_once",
            )
        ]
        indexes = [models.Index(fields=["rule", "lifted_at"], name="rule_application_rule_idx")]

    def __str__(self):
        return f"rule {self.rule_id} on client {self.client_id}"


class RuleApplyJob(JobProgress, models.Model):
    """A rule an officer added or ended with effect now, applied to the clients it reaches in
    the background (the compliance queue) once the officer's change commits: `done` of `total`
    clients, in batches of their own transactions, with what it applied and lifted. The rule
    page shows its progress; the standing reads the rules live meanwhile."""

    rule = models.ForeignKey("brokerage.CountryRule", on_delete=models.PROTECT, related_name="+")
    change = models.CharField(max_length=8, choices=[("added", "Added"), ("ended", "Ended")])
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    applied_count = models.PositiveIntegerField(default=0)
    lifted_count = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "requested_at"], name="rule_apply_job_status")]

    def __str__(self):
        return f"Rule {self.rule_id} {self.change}: {self.done} of {self.total} clients"
