"""`python -m service` is the same as the `followup` command."""

from .cli import main

main()
