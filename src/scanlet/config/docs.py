"""The key reference of docs/configuration.md, generated from the models.

``python -m scanlet.config.docs`` rewrites the table between the two markers of
docs/configuration.md (the prose around it is written by hand); ``--check`` only compares, and
exits 1 when the file and the models disagree (tests/config/test_config_docs.py does the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanlet.config.settings import Key, keys
from scanlet.config.template import ini_value

BEGIN = ("<!-- keys: generated from src/scanlet/config/sections.py by "
         "`python -m scanlet.config.docs`; edit the models, not this table -->")
END = "<!-- end of the generated keys -->"
DEFAULT_PATH = Path("docs/configuration.md")


def shown_default(key: Key) -> str:
    """The default as the table shows it: the value in backticks, or *(none)*."""
    shown = key.extra("shown")
    if shown is not None:
        return shown
    text = ini_value(key.default)
    return f"`{text}`" if text else "*(none)*"


def key_table() -> str:
    """The Markdown table of every key: section, key, default, meaning."""
    rows = ["| Section | Key | Default | Meaning |", "|---|---|---|---|"]
    for key in keys():
        meaning = " ".join((key.field.description or "").split())
        rows.append(f"| `{key.section}` | `{key.name}` | {shown_default(key)} | {meaning} |")
    return "\n".join(rows) + "\n"


def render(document: str) -> str:
    """``document`` with the text between the markers replaced by :func:`key_table`."""
    head, begin, rest = document.partition(BEGIN + "\n")
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are missing")
    return head + begin + "\n" + key_table() + "\n" + end + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scanlet.config.docs", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH,
                        help="the configuration doc (default: docs/configuration.md)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file is not up to date")
    args = parser.parse_args(argv)
    current = args.path.read_text(encoding="utf-8")
    wanted = render(current)
    if wanted == current:
        return 0
    if args.check:
        print(f"{args.path} does not match the config models; run python -m "
              "scanlet.config.docs", file=sys.stderr)
        return 1
    args.path.write_text(wanted, encoding="utf-8")
    print(f"{args.path} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
