"""``python -m cdconnect.sandbox``."""

from cdconnect.sandbox.main import main

main()
