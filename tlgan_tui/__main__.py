import sys

from tlgan_tui.cli import main

sys.exit(main())
