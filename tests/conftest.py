"""Makes tests/references.py (independent oracles shared by several test files) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
