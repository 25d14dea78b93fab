"""``python -m poiesis.filer in|out ...``: the same as ``poiesis filer in|out ...``."""

import sys

from poiesis import config
from poiesis.filer.cli import main

sys.exit(main(sys.argv[1:], config.load().filer))
