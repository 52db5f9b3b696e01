"""Allow ``python -m scanlet``."""

from scanlet.cli import main

main()
