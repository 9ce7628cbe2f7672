"""``python -m bot`` runs the ``shunter`` command."""

from bot.cli import main

raise SystemExit(main())
