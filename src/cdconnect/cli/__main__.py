"""``python -m cdconnect.cli``."""

from cdconnect.cli.app import main

main()
