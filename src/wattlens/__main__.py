import sys

from wattlens.cli.main import main

sys.exit(main())
