#!/usr/bin/env python3
"""Fuzz pywamr: module loading and the Teaclave entrypoint, crash-isolated.

The fuzzer is the package ``tools/fuzzing`` (its docstring describes the targets,
the driver and the crash files); this script is its command line::

    python tools/fuzz.py --target load --seconds 600
    python tools/fuzz.py --target teaclave --seconds 600 --seed 7
    python tools/fuzz.py --replay crashes/load-7-1234.json
    python tools/fuzz.py --target load --engine atheris -- -max_total_time=600
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzing.driver import main  # after the path insert above

if __name__ == "__main__":
    sys.exit(main())
