"""User-facing errors.

Anything a user can fix (a typo in a model name, a missing dataset, a corrupt file) raises
:class:`DiveBenchError` with a message that names the problem and the fix. The CLI prints it on
one line and exits with status 2; everything else is a bug and keeps its traceback.
"""


class DiveBenchError(Exception):
    """A problem with the user's input or environment, explained in the message."""
