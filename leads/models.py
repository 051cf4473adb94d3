"""Leads: capture, scoring, routing, desks' sales work."""
