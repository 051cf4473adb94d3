"""The demo data set, composed across apps (`manage.py seed_demo`).

It sits above every app: it drives each app through its own services, as staff, clients and
the PSPs would, so the demo shows what the product really does. No product code imports it
(an import contract in pyproject.toml checks this), and nothing here exists in a database
unless `seed_demo` is run.

- `management/commands/seed_demo.py`: staff per role, desks, the demo client and partners, the
  API key; then each part below, and today's retention run.
- `leads`: scoring and routing rules, a nurture sequence, sample leads.
- `kyc`: a submission waiting in the review queue.
- `finance`: FX rates, deposit methods, a month of deposits, withdrawals, a refund and a
  chargeback, through the finance services and the PSPs' events.
- `trading`: the MT5 sandbox server, account types, accounts and a trading book synced the
  product's own way.
- `book`: the trading book's year (leads, KYC outcomes, declared finances, deposits,
  withdrawals, refunds and chargebacks across the PSPs, with the ledger), written set-based;
  `book_planted` the clients built to fire each AML typology (`planted.planted_cases()`);
  `book_ib` IB trees over the book.
"""
