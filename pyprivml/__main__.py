"""``python -m pyprivml``: the command line of :mod:`pyprivml.cli`."""

from .cli import main

raise SystemExit(main())
