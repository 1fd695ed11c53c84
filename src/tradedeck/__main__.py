"""`python -m tradedeck` is the `tradedeck` command."""

from tradedeck.cli import main

main()
