import sys

from dive_bench.cli.main import main

sys.exit(main())
