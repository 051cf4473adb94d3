"""Support tickets: clients raise them in the portal, staff answer, assign and close them.

- `services`: the writes (open, reply, close, assign, priority), each audited in the same
  transaction, with the email to the client sent after commit.
- `selectors`: the reads (the staff queue and its counts, a ticket for staff or its client, the
  conversation, possible assignees), scoped to who asks.

Import from the module you need; this package re-exports nothing.
"""
