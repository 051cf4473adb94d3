"""The layers of the monolith are checked, not hoped for.

The order of the apps is stated once, in pyproject.toml's import contracts
(`[tool.importlinter]`, the `apps` contract, top to bottom). Here: the contracts hold (so plain
pytest checks them too, not only `make test`), no migration needs an app above its own, and no
module of the apps outgrows what one person can read.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parent.parent
IMPORT_CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
APP_LAYERS = next(c for c in IMPORT_CONTRACTS["contracts"] if c["id"] == "apps")["layers"]
# App label -> (depth, 0 the top; whether the apps on its layer may depend on each other).
LAYER = {
    app.strip(): (depth, ":" in layer)
    for depth, layer in enumerate(APP_LAYERS)
    for app in layer.replace(":", "|").split("|")
}
APPS = ["brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance", "demo"]
MAX_MODULE_LINES = 800


def test_the_layers_name_every_app():
    assert sorted(LAYER) == sorted(APPS)


def test_import_contracts_hold():
    """Apps in layers, the sandbox and the benchmarks apart, finance's services in order."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def may_depend(app: str, on: str) -> bool:
    """May a migration of `app` depend on one of `on` (an app of ours or a third party's)?"""
    if app == on or on not in LAYER:
        return True
    (depth, shared), (on_depth, _) = LAYER[app], LAYER[on]
    return on_depth > depth or (on_depth == depth and shared)


def upward_dependencies(migrations: dict[tuple[str, str], Migration]) -> list[str]:
    """Every dependency of a migration on a higher app, both ways Django states one:
    `dependencies` (this needs that) and `run_before` (that needs this)."""
    found = []
    for (app, name), migration in sorted(migrations.items()):
        if app not in LAYER:
            continue
        for on, on_name in migration.dependencies:
            if not may_depend(app, on):
                found.append(f"{app}.{name} depends on {on}.{on_name}")
        for before, before_name in migration.run_before:
            if not may_depend(before, app):
                found.append(f"{app}.{name} runs before {before}.{before_name}")
    return found


def test_no_migration_depends_on_a_higher_app():
    migrations = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    assert {app for app, _ in migrations} >= {"brokerage", "clients", "finance", "ib"}
    assert upward_dependencies(migrations) == []


def test_an_upward_migration_dependency_is_found():
    """The check above can fail: a leads migration that needs ib (as leads' first migration
    did when it held `Lead.partner`), and a compliance migration that slips itself before
    finance's, are both named."""
    leads = Migration("0001_initial", "leads")
    leads.dependencies = [("brokerage", "0001_initial"), ("ib", "0001_initial")]
    compliance = Migration("0001_initial", "compliance")
    compliance.run_before = [("finance", "0002_wallets")]
    kyc = Migration("0002_levels", "kyc")
    kyc.dependencies = [("clients", "0001_initial"), ("auth", "0012_alter_user_first_name")]
    kyc.run_before = [("ib", "0001_initial")]
    found = upward_dependencies(
        {("leads", "0001_initial"): leads, ("compliance", "0001"): compliance, ("kyc", "2"): kyc}
    )
    assert found == [
        "compliance.0001 runs before finance.0002_wallets",
        "leads.0001_initial depends on ib.0001_initial",
    ]


def test_no_module_of_the_apps_is_over_800_lines():
    sizes = {}
    for app in APPS:
        modules = [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
        assert modules, app
        for path in modules:
            sizes[str(path.relative_to(ROOT))] = len(path.read_text().splitlines())
    over = {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert over == {}, "split these into a package, one module per noun"
