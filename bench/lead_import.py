"""CSV import of leads at scale: upload, dry run and apply of one file, in its own database.

    .venv/bin/python bench/lead_import.py --rows 50000      # stated scale
    .venv/bin/python bench/lead_import.py --rows 500        # smoke

Runs the same functions the Celery tasks run (in this process, so each step is timed alone;
routing tasks queued by the import go to a scratch Redis database and are discarded). Prints
one JSON line: rows, seconds for the dry run and for the apply, rows per second of each.
"""

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ["REDIS_URL"] = (
    os.environ.get("REDIS_URL", "redis://127.0.0.1:63799/0").rsplit("/", 1)[0] + "/14"
)

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402


def make_csv(rows: int) -> bytes:
    out = io.StringIO()
    out.write("First Name,Last Name,Email,Phone,Country,Experience,Net worth,Campaign\n")
    countries = [("AE", "+97150{:07d}"), ("GB", "+447911{:06d}"), ("DE", "+49151{:08d}")]
    for i in range(rows):
        country, phone = countries[i % 3]
        out.write(
            f"First{i},Last{i},import{i}@example.com,{phone.format(i % 10**6)},{country},"
            f"{['none', 'some', 'experienced'][i % 3]},{(i % 7) * 50000},bulk\n"
        )
    return out.getvalue().encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50000)
    args = parser.parse_args()
    original = bench_db_create("_bench_import")
    try:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        call_command("seed_demo", stdout=io.StringIO())
        from brokerage.models import User
        from leads.imports import lead_import_apply, lead_import_check, lead_import_upload
        from leads.models import LeadImport

        actor = User.objects.get(email="desk_manager@demo.test")
        data = make_csv(args.rows)
        t0 = time.perf_counter()
        imp = lead_import_upload(
            actor=actor, uploaded_file=SimpleUploadedFile("bulk.csv", data, "text/csv")
        )
        upload_s = time.perf_counter() - t0
        LeadImport.objects.filter(pk=imp.pk).update(state="checking")
        t0 = time.perf_counter()
        imp = lead_import_check(import_id=imp.pk)
        check_s = time.perf_counter() - t0
        LeadImport.objects.filter(pk=imp.pk).update(state="importing")
        t0 = time.perf_counter()
        imp = lead_import_apply(import_id=imp.pk)
        apply_s = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "bench": "lead_import",
                    "rows": args.rows,
                    "bytes": len(data),
                    "valid": imp.valid_rows,
                    "created": imp.created_count,
                    "state": imp.state,
                    "upload_s": round(upload_s, 2),
                    "dry_run_s": round(check_s, 2),
                    "dry_run_rows_per_s": round(args.rows / check_s, 1),
                    "apply_s": round(apply_s, 2),
                    "apply_rows_per_s": round(args.rows / apply_s, 1),
                }
            )
        )
        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
