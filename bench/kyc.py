"""KYC auto-checks at batch scale through the real worker, against the OCR floor.

    .venv/bin/python bench/kyc.py --submissions 200          # stated scale
    .venv/bin/python bench/kyc.py --submissions 12           # smoke

Makes its own database (dropped afterwards) and Redis database (13); creates clients with
complete submissions (a ~1500x1000 passport and a proof of address each): 90% clean, 10% with
one defect each (blurred, expired, name mismatch, tampered check digit, in turn). Starts one
Celery worker (concurrency 2, this machine's cores), submits all, and waits for every
decision. Prints one JSON line: batch wall time, per-submission pipeline p50/p95, the time
the OCR engine alone (PP-OCR: one detection pass and one recognition of the MRZ lines) takes
on the same passports once, in as many processes as the worker (the floor), and the ratio,
the share of clean submissions auto-approved, and whether every defective one was sent to
review with the right flag.
"""

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
BENCH_REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:63799/0").rsplit("/", 1)[0] + "/13"
os.environ["REDIS_URL"] = BENCH_REDIS

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402

DEFECTS = [
    ("blur", "blurry"),
    ("expired", "document_expired"),
    ("name", "name_mismatch"),
    ("tamper", "mrz_check_digit"),
]


def ocr_floor_once(data: bytes) -> float:
    from kyc import ocr

    started = time.perf_counter()
    crops, _upright = ocr.mrz_crops(ocr._as_array(ocr.load(data)))
    ocr._recognised(crops)
    return time.perf_counter() - started


def percentile(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    original = bench_db_create("_bench_kyc")
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:"
        f"{db['PORT']}/{db['NAME']}",
        REDIS_URL=BENCH_REDIS,
        LOG_LEVEL="WARNING",
        DJANGO_DEBUG="false",
    )
    worker = None
    try:
        import redis

        redis.Redis.from_url(BENCH_REDIS).flushdb()
        from bench.kycdata import submission_complete
        from brokerage.models import AuditEvent
        from kyc import ocr, specimens
        from kyc.models import KycSubmission
        from kyc.services import kyc_submission_submit

        expected, passports = {}, []
        for i in range(args.submissions):
            defect = DEFECTS[(i // 10) % len(DEFECTS)] if i % 10 == 9 else None
            person = specimens.Person(
                number=f"{700000000 + i}",
                expiry=date.today() - timedelta(days=20)
                if defect and defect[0] == "expired"
                else date.today() + timedelta(days=1500),
            )
            data = specimens.passport(
                person,
                blur=3 if defect and defect[0] == "blur" else 0,
                tamper_check_digit=bool(defect and defect[0] == "tamper"),
                seed=i,
            )
            passports.append(data)
            name_defect = bool(defect and defect[0] == "name")
            submission = submission_complete(
                f"kyc{i}@example.com",
                person=person,
                passport=data,
                first_name="Sophie" if name_defect else "Olivia May",
                last_name="Turner" if name_defect else "Harris",
            )
            expected[submission.pk] = defect[1] if defect else None

        # The floor: the OCR engine alone, once per passport: one detection pass over the
        # page and one recognition of the MRZ lines it found (no parsing, no second look),
        # in as many processes as the worker has, each with its engine loaded.
        connections.close_all()
        with multiprocessing.get_context("fork").Pool(
            args.concurrency, initializer=ocr.engine
        ) as pool:
            floor = pool.map(ocr_floor_once, passports, chunksize=1)

        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "brokerage",
                "worker",
                "-Q",
                "kyc,default",
                "-c",
                str(args.concurrency),
                "-l",
                "warning",
                "-n",
                "kycbench@%h",
            ],
            cwd=ROOT,
            env=env,
        )
        time.sleep(3)
        started = time.perf_counter()
        for pk in expected:
            submission = KycSubmission.objects.get(pk=pk)
            kyc_submission_submit(submission=submission, actor=submission.client.user)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            pending = KycSubmission.objects.filter(pk__in=expected, state="submitted").count()
            if not pending:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        per = []
        for event in AuditEvent.objects.filter(
            action__in=["kyc.auto_approved", "kyc.sent_to_review"]
        ):
            per.append(event.evidence["seconds"])
        states = dict(KycSubmission.objects.filter(pk__in=expected).values_list("pk", "state"))
        clean = [pk for pk, flag in expected.items() if flag is None]
        approved_clean = sum(states[pk] == "approved" for pk in clean)
        defective_ok = all(
            states[pk] == "in_review"
            and KycSubmission.objects.get(pk=pk).checks.filter(flag=flag).exists()
            for pk, flag in expected.items()
            if flag
        )
        print(
            json.dumps(
                {
                    "bench": "kyc_batch",
                    "submissions": args.submissions,
                    "worker_concurrency": args.concurrency,
                    "batch_wall_s": round(wall, 1),
                    "pipeline_p50_s": round(statistics.median(per), 3) if per else None,
                    "pipeline_p95_s": round(percentile(per, 95), 3) if per else None,
                    "baseline": "PP-OCR alone (detection + MRZ line recognition), same "
                    "passports, once each, at the worker's concurrency",
                    "ocr_floor_p50_s": round(statistics.median(floor), 3),
                    "ocr_floor_p95_s": round(percentile(floor, 95), 3),
                    "ratio_p50": round(statistics.median(per) / statistics.median(floor), 2)
                    if per
                    else None,
                    "clean_auto_approved_pct": round(100 * approved_clean / len(clean), 1),
                    "defective_flagged_correctly": defective_ok,
                    "decided": len(per),
                }
            )
        )
        redis.Redis.from_url(BENCH_REDIS).flushdb()
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
