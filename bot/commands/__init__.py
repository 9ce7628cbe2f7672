"""One module per ``shunter`` subcommand.

``bot.cli.main`` parses the arguments, reads the environment once into a
:class:`~bot.commands._context.RunContext` and calls the command's function. The
modules starting with ``_`` are shared by the commands: ``_context`` (the frozen run
context), ``_wiring`` (the only place that builds adapters), ``_output`` (how an
outcome is printed and published to GitHub Actions) and ``_actor`` (who asks for an
emergency operation, and whether they may). Heavy imports (PyGithub, requests, jinja2)
happen inside the functions that need them, so importing a command costs nothing.
"""
