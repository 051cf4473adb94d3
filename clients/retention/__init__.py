"""Retention: the daily inactivity run, its context signals, outreach and outcomes.

A funded client who has not traded for the desk's threshold (default 12 days) gets one open
`RetentionFlag` with the signals that explain why they went quiet: a losing streak, a sharp fall
in balance, a failed withdrawal (finance contributes that one), no portal login. Agents work the
queue, reach out from templates that answer those signals, and log what came of it. The flag
clears when the client trades again: at once when the platform sync ingests their deals
(`retention_flags_clear_on_trade`), and in any case at the next daily run.

- `signals`: the signal definitions, built in and contributed by other apps to the
  `retention.signals` hook.
- `services`: the writes: the daily run, clearing on trade, outreach, desk thresholds.
- `selectors`: the reads: the queue, its KPIs, a flag's page, outreach templates, the desks a
  manager may set thresholds for.

Import from the module you need; this package re-exports nothing.
"""
