"""What the demo book planted for the monitoring to find (`demo.planted`).

Written only by `seed_demo` (`demo.book_planted`); read by the tests and `bench/aml.py` to know
which clients were built to fire which typology. No product code reads it.
"""

from django.db import models


class PlantedCase(models.Model):
    """A client of the demo book built to fire one AML typology at its default parameters."""

    typology = models.CharField(max_length=40, help_text="The typology's code.")
    client = models.OneToOneField("clients.Client", on_delete=models.CASCADE, related_name="+")
    story = models.CharField(max_length=300, help_text="What was planted, in words.")
    planted_at = models.DateTimeField()

    class Meta:
        ordering = ["typology", "client_id"]
        indexes = [models.Index(fields=["typology"])]

    def __str__(self):
        return f"{self.typology}: client {self.client_id}"
