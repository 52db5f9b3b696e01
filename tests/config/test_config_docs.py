"""docs/configuration.md and the configuration models agree: every key documented with its
default, no documented key that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from scanlet.config import Home, Settings, load_settings
from scanlet.config import docs as config_docs
from scanlet.config.settings import keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _rows() -> dict[tuple[str, str], str]:
    """(section, key) -> the Default cell, read from the doc's key table."""
    rows: dict[tuple[str, str], str] = {}
    text = DOC.read_text(encoding="utf-8")
    table = text.partition("## Keys")[2]
    for line in table.splitlines():
        match = re.match(r"\| `(\w+)` \| `(\w+)` \| (.*?) \| ", line)
        if match:
            assert (match[1], match[2]) not in rows, f"{match[1]}.{match[2]} twice"
            rows[(match[1], match[2])] = match[3]
    return rows


def test_the_doc_is_generated_from_the_models() -> None:
    current = DOC.read_text(encoding="utf-8")
    assert config_docs.render(current) == current, \
        "docs/configuration.md is out of date: run python -m scanlet.config.docs"
    assert config_docs.main([str(DOC), "--check"]) == 0


def test_every_key_is_documented_and_every_documented_key_exists() -> None:
    rows = _rows()
    assert set(rows) == {(k.section, k.name) for k in keys()}


def test_documented_defaults_are_the_defaults(tmp_path: Path) -> None:
    """A default shown as a value, written into user.ini, loads as the model's default."""
    home = Home(tmp_path / "h").create()
    defaults = Settings()
    by_name = {(k.section, k.name): k for k in keys()}
    for (section, name), cell in _rows().items():
        key = by_name[(section, name)]
        if cell.startswith("*("):  # no value: nothing, PATH, the system's, all available
            assert getattr(defaults, key.attr) in (None, (), {}), f"{section}.{name}"
            continue
        value = re.fullmatch(r"`([^`]*)`", cell)
        assert value, f"{section}.{name}: {cell!r}"
        home.user_config.write_text(f"[{section}]\n{name} = {value[1]}\n")
        assert getattr(load_settings(home), key.attr) == getattr(defaults, key.attr), \
            f"{section}.{name}"


def test_the_check_fails_on_a_stale_doc(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(DOC.read_text(encoding="utf-8").replace("`18622`", "`18000`"))
    assert config_docs.main([str(stale), "--check"]) == 1
    assert config_docs.main([str(stale)]) == 0  # rewrites it
    assert stale.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
