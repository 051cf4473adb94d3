"""Faithful stand-ins for outside systems, used by the demo and the tests.

Product code never imports this package; it reaches these servers over HTTP exactly as it would
reach the real ones.
"""
