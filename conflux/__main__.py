"""`python -m conflux` is the `conflux` command."""

from conflux.cli import main

main()
