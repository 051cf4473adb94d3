"""Compliance: AML, sanctions, jurisdictions, audit dossier."""
