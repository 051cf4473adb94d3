"""The benchmarks still run, at smoke scale (their figures are read by people, not asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.bench


def run_bench(script, *args):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def test_audit_bench_smoke():
    figures = run_bench("audit.py", "--events", "400", "--writers", "2")
    assert figures["chain_verified"] and figures["chain_rows"] == 500
    assert figures["sealed"] == figures["written"] == 500 and figures["unsealed_after"] == 0
    assert figures["sealer_killed_and_restarted"]
    assert figures["audit_events_per_s"] > 0 and figures["baseline_tps"] > 0


def test_leads_bench_smoke():
    figures = run_bench("leads.py", "--leads", "60", "--clients", "4", "--warmup", "4")
    assert figures["accepted"] == 60 and figures["errors"] == 0
    assert figures["routed"] == 60 and figures["assigned_exactly_once"]


def test_kyc_bench_smoke():
    figures = run_bench("kyc.py", "--submissions", "10")
    assert figures["decided"] == 10 and figures["clean_auto_approved_pct"] == 100.0
    assert figures["defective_flagged_correctly"]


def test_ledger_bench_smoke():
    figures = run_bench(
        "ledger.py",
        "--transfers",
        "200",
        "--writers",
        "2",
        "--wallets",
        "20",
        "--pgbench-seconds",
        "1",
        "--pgbench-scale",
        "1",
    )
    assert figures["transfers"] == 200 and figures["ledger_verify"] == "clean"
    assert figures["ledger_transactions_per_s"] > 0 and figures["baseline_tps"] > 0


@pytest.mark.parametrize("fmt", ["stripe_csv", "csv", "camt053", "mt940"])
def test_reconcile_bench_smoke(fmt):
    figures = run_bench("reconcile.py", "--rows", "3000", "--format", fmt)
    assert figures["all_found_exactly"] and figures["statement_rows"] > 2900


def test_sync_bench_smoke():
    figures = run_bench(
        "sync.py", "--accounts", "40", "--deals", "9", "--seconds", "2", "--interval", "1"
    )
    assert figures["backfill_deals_per_s"] > 0 and figures["history_deals"] == 360
    assert figures["missing_or_duplicated"] == 0 and figures["live_deals"] > 0


def test_client360_bench_smoke():
    figures = run_bench("client360.py", "--clients", "60", "--sample", "8")
    assert figures["clients"] >= 60 and figures["deals"] > 60 * 30
    # A fixed number of queries whatever the client holds; a part with nothing to show (no lead
    # the client came from, no linked clients) skips its one or two queries.
    assert max(figures["queries"]) - min(figures["queries"]) <= 3 and figures["p50_ms"] > 0


def test_kyc_read_bench_smoke():
    figures = run_bench("kyc_read.py", "--count", "1")
    assert figures["real_read"] == figures["real_files"] == 9
    assert figures["robustness_documents"] == 7 and figures["robustness_read_pct"] >= 85


def test_ib_bench_smoke():
    figures = run_bench(
        "ib.py", "--deals", "3000", "--partners", "30", "--clients", "300", "--new", "200"
    )
    assert figures["lines"] == figures["lines_written_by_run"] > 3000
    assert figures["no_line_twice"] and figures["deals_paid_above_top_rate"] == 0
    assert figures["short_holds_paid"] == 0 and figures["recompute_same_checksum"]
    assert figures["new_lines"] > 0


def test_ib_links_bench_smoke():
    figures = run_bench(
        "ib_links.py", "--clicks", "20000", "--links", "40", "--partners", "8",
        "--registrations", "500",
    )  # fmt: skip
    assert figures["counts_agree"] and figures["linkday_rows"] > 0
    funnel = figures["busiest_partner_funnel"]
    assert funnel["clicks"] > funnel["registrations"] > funnel["verified"] > funnel["traded"] > 0
    assert figures["click_ms"] > 0 and figures["backoffice_page_ms"] > 0


def test_dossier_bench_smoke():
    figures = run_bench("dossier.py", "--events", "200", "--deals", "100", "--runs", "1")
    assert figures["audit_events"] == 200 and figures["deals"] == 100
    assert figures["proof_verifies"] and figures["zip_bytes"] > 0


def test_screening_bench_smoke():
    figures = run_bench(
        "screening.py",
        *("--listed", "12", "--others", "60", "--book", "300", "--clients", "400"),
        *("--changed", "10"),
    )
    assert figures["screenings"] > 100 and figures["p95_ms"] > 0
    assert set(figures["recall"]) == {
        "exact",
        "transliterated",
        "reordered",
        "typo",
        "missing_middle",
        "joined",
        "split",
        "hangul",
    }
    assert figures["recall"]["exact"] == 1.0 and figures["book_names"] == 300


def test_leverage_bench_smoke():
    figures = run_bench("leverage.py", "--accounts", "400")
    assert figures["above_cap"] == figures["marked"] == figures["marked_due"] > 0
    assert 0 < figures["limit_edit_gb_accounts"] < figures["above_cap"]


def test_risk_bench_smoke():
    figures = run_bench("risk.py", "--clients", "400", "--synced", "20")
    assert figures["assessments_stored"] == 400 and figures["sweep_again_stored"] == 0
    assert figures["applied"] == figures["lifted"] == figures["clients_in_belarus"] > 0
    assert figures["emails_recorded"] == figures["applied"]
    assert figures["apply_idle"] == {"applied": 0, "lifted": 0}


def test_aml_bench_smoke():
    figures = run_bench("aml.py", "--smoke")
    assert figures["planted"] == 20 and figures["realtime_evaluated"] > 0
    assert all(recall == 1.0 for recall in figures["recall"].values()), figures["planted_missed"]
    assert figures["ordinary_alerts_month"] == 0 and len(figures["nightly_scenarios"]) == 10
    # the officer closes every alert each morning: more evidence reopens it, never a second
    assert figures["officer_closes_daily"] and figures["raised_again_in_window"] == 0
    assert figures["dossier"]["proof_verifies"]


def test_replica_bench_smoke():
    figures = run_bench("replica.py", "--smoke", "--port", "55442")
    assert figures["ok"], figures["failed"]
    assert figures["dashboard"]["replica"] > 0 and figures["export"]["replica"] > 0
    for step in ("deposit", "withdrawal_approval", "sign_in"):
        assert figures[step]["replica"] == 0 and figures[step]["primary"] > 0, step
    down = figures["replica_down"]
    assert down["dashboard_status"] == 200 and down["health"]["status"] == "down"
    assert "reading from the primary" in down["warning"]
    assert figures["paused_dashboard"]["replica"] == 0
    assert figures["paused_dashboard"]["status"]["status"] == "lagging"
    assert figures["resumed_dashboard"]["replica"] > 0


def test_backup_drill_smoke():
    """A backup restored into a new cluster of its own: ledger, audit chain, pages, documents."""
    figures = run_bench("backup_drill.py", "--smoke")
    assert figures["tables"] > 50 and figures["rows"] > 0 and figures["documents"] > 0
    assert figures["ledger_verified"] and figures["audit_verified"]
    assert figures["pages_answered"] == 7 and figures["documents_opened"] > 0


def test_dashboards_bench_smoke():
    figures = run_bench("dashboards.py", "--smoke")
    assert figures["clients"] >= 60 and figures["deals"] > 0
    # every dashboard, each with one query count for every filter
    assert set(figures["queries"]) == {"leadership", "sales", "retention", "finance"} | {
        "compliance",
        "dealing",
    }
    assert all(len(counts) == 1 for counts in figures["queries"].values()), figures["queries"]
    assert figures["during_rebuild"]["rebuild_s"] is not None
    assert set(figures["rebuild_per_rollup_s"]) >= {"funnel", "money", "trading", "ib_quality"}
    assert len(figures["webhook_to_figure_s"]) == 2
    assert figures["webhook_to_figure_max_s"] < figures["webhook_target_s"]
