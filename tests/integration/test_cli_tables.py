"""The command line's new listings and checks against a real database:
``space list``, ``rule list``, ``key list`` with header rows and ``--json``;
``rule validate`` without any database; ``--version`` from the one version;
and the ``flowjobs`` command without the server's packages."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

from flowjobs import __version__
from flowjobs.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_space_rule_and_key_lists_have_headers_and_json(sqlite_url: str) -> None:
    db = ("--database-url", sqlite_url)
    assert cli(*db, "space", "list").split() == ["NAME", "ID", "PARALLEL", "PRIORITY", "BILLING"]
    cli(*db, "space", "create", "acme", "--parallel-limit", "3", "--quota-seconds", "60")
    cli(*db, "key", "create", "--space", "acme")
    for flow in ("price-order", "route-order"):  # route-order calls price-order: pushed after
        cli(*db, "rule", "push", str(EXAMPLES / f"{flow}.yaml"), "--space", "acme", "--publish")

    spaces = cli(*db, "space", "list").splitlines()
    rules = cli(*db, "rule", "list", "--space", "acme").splitlines()
    keys = cli(*db, "key", "list", "--space", "acme").splitlines()

    assert spaces[0].split()[:2] == ["NAME", "ID"] and spaces[1].split()[0] == "acme"
    assert "quota 60 s a month" in spaces[1] and spaces[1].split()[2] == "3"
    assert rules[0].split()[:3] == ["ALIAS", "VERSION", "STATUS"]
    assert [line.split()[:3] for line in rules[1:]] == [
        ["price-order", "1", "published"],
        ["route-order", "1", "published"],
    ]
    assert keys[0].split()[:2] == ["ID", "KIND"] and keys[1].split()[1] == "solver"
    listed = json.loads(cli(*db, "rule", "list", "--space", "acme", "--json"))["rules"]
    assert [(r["ruleAlias"], r["version"]) for r in listed] == [
        ("price-order", 1),
        ("route-order", 1),
    ]
    assert json.loads(cli(*db, "space", "list", "--json"))["spaces"][0]["parallelLimit"] == 3


def test_rule_validate_needs_no_database(tmp_path: Path) -> None:
    nowhere = ("--database-url", "postgresql://nobody@127.0.0.1:1/none")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\nnodes:\n  - id: a\n    type: teleport\n")

    good = CliRunner().invoke(
        app, [*nowhere, "rule", "validate", str(EXAMPLES / "route-order.yaml")]
    )
    broken = CliRunner().invoke(app, [*nowhere, "rule", "validate", str(bad), "--json"])
    missing = CliRunner().invoke(app, [*nowhere, "rule", "validate", str(tmp_path / "no.yaml")])

    assert (good.exit_code, good.stdout.strip()) == (0, f"{EXAMPLES / 'route-order.yaml'}: valid")
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["valid"] is False and 'unknown node type "teleport"' in report["problems"][0]
    assert missing.exit_code == 1 and "cannot read the file" in missing.stdout


def test_one_version_everywhere() -> None:
    assert cli("--version").strip() == f"flowjobs {__version__}"
    assert version("flowjobs") == __version__  # pyproject reads flowjobs.__version__
    from flowjobs.api.app import create_app
    from flowjobs.config import Settings

    assert create_app(Settings(database_url="sqlite://"), run_worker=False).version == __version__


def test_the_command_without_the_server_packages_says_what_to_install() -> None:
    # typer made unimportable: what an install of the client alone looks like
    probe = "import sys; sys.modules['typer'] = None; from flowjobs.__main__ import run; run()"
    done = subprocess.run(
        [sys.executable, "-c", probe, "space", "list"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: the flowjobs command needs the server's packages (typer is missing): "
        "pip install 'flowjobs[server]'"
    )
