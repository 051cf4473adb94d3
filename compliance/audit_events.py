"""The audit event codes compliance writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("compliance")

LIST_IMPORTED = event("screening.list_imported", "Sanctions or PEP list imported")
