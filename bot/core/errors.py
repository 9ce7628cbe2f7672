"""The errors the pure core raises, one type per kind of trouble.

The core knows nothing of exit codes or the command line: it says *what* is wrong
with a value it was given, and ``bot.errors.exit_code`` decides what that means for a
run. Every one subclasses ``ValueError``, because each is a value the caller handed in
that cannot be used, and so callers that caught ``ValueError`` keep working; new code
catches the specific type::

    CoreError (ValueError)
    ├── ConstraintError   a version constraint or tag regex that does not parse (config)
    ├── TemplateError     a commit-message template that does not parse or render (config)
    ├── ManifestError     a GitOps file that cannot be edited as asked (a person fixes it)
    └── RefusedError      an emergency operation that cannot apply to the ledger as asked

(A state-branch file Shunter cannot read is ``bot.errors.LedgerError``: it carries
located problems, like ``ConfigError``.)
"""

from __future__ import annotations


class CoreError(ValueError):
    """Base of every error the core raises; the message says what is wrong and what to do."""


class ConstraintError(CoreError):
    """A version constraint or a tag regular expression that cannot be used."""


class TemplateError(CoreError):
    """A commit-message template that does not parse, or names a variable that does not exist."""


class ManifestError(CoreError):
    """A file in the GitOps repository that cannot be edited as the config asks."""


class RefusedError(CoreError):
    """An emergency operation that names freight or a stage it cannot apply to."""
