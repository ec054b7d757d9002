"""The ``dive-bench`` command line: ``main`` parses and dispatches; one module per command group
(``train``, ``sweep``, ``compare``, ``plot``, ``diagnostics``); ``options`` generates flags and help
from the declarations in :mod:`dive_bench.spec.runspec`."""
