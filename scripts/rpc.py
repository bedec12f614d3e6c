#!/usr/bin/env python3
"""lvstord JSON-RPC command line client, compatible with SPDK's scripts/rpc.py
command-line shape.  The code lives in the lvstor_rpc package next to this
file; run 'rpc.py -h' for usage."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from lvstor_rpc.cli import main  # noqa: E402

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, as other CLI tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
