"""The hostile-input suite, one file per surface (``test_hostile_<surface>.py``).

Every case is an input a user can really produce (a damaged file, an absurd setting, a folder
that sorts two ways) and asserts one of three outcomes:

- refused: the CLI prints one ``dive-bench: error:`` line naming the problem and the fix and exits 2
  (``cli_checks.cli_error``); the API raises ``DiveBenchError`` with one line (``cli_checks.api_error``);
- shown: the input is accepted and what was made of it is printed (a class mapping built by sorting);
- computed correctly: the number that comes back is the right one, checked against a known answer.

Where a case touches stored results it also checks, with ``cli_checks.digest``, that nothing stored
changed. A new surface gets its file here the day it lands; count the cases per surface with
``pytest --collect-only -q tests/hostile``.
"""
