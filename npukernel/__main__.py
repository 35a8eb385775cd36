"""``python -m npukernel``: the same as the ``npukernel`` command (:mod:`npukernel.cli`)."""

import sys

from npukernel.cli import main

sys.exit(main())
