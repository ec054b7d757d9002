"""User-facing errors and the exit codes of ``dive-bench``.

Anything a user can fix (a typo in a model name, a missing dataset, a corrupt file) raises
:class:`DiveBenchError` with a message that names the problem and the fix. The CLI prints it on
one line and exits with status 2; everything else is a bug and keeps its traceback.

Exit codes, the same for every command:

- 0: success (``check``: pass);
- 1: ``check`` found a regression; ``position-check`` / ``prior-check`` failed their gate;
- 2: bad input or environment (one line on stderr; nothing stored was changed);
- 3: ``score`` / ``merge`` finished, but some items failed (their errors are in run.json's
  ``failed_items``; rerun with ``--retry-failed``); the metrics cover the other items only;
- 130: interrupted (finished items are kept; rerun the same command to resume).
"""

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_ITEMS_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class DiveBenchError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class NonFiniteError(RuntimeError):
    """A model produced NaN/inf for one item. Not a :class:`DiveBenchError`: the runner records
    the item as failed and goes on with the others, where a DiveBenchError stops the run."""


class ItemsFailedError(DiveBenchError):
    """Every item of a scoring run failed: there are no metrics, so nothing may look like a result
    (the API used to return status "partial" with empty metrics). Its failures are stored in the
    run folder as for any failed item; the CLI exits 3 (items failed) rather than 2."""

    exit_code = EXIT_ITEMS_FAILED
