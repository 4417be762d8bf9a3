"""The newest migration is found without Alembic, as Alembic finds it."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from flowjobs.store.migrate import MIGRATIONS, _module_constants, head_revision


def test_head_revision_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_module_constants_reads_the_revision_ids_only(tmp_path: Path) -> None:
    path = tmp_path / "0009_x.py"
    path.write_text(
        '"""doc"""\nimport sqlalchemy as sa\nrevision = "0009"\ndown_revision = None\n'
        "branch_labels = None\nNUMBER = 3\nfrom_call = str(1)\n"
    )
    assert _module_constants(path) == {
        "revision": "0009",
        "down_revision": None,
        "branch_labels": None,
    }
