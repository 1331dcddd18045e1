import sys

from fooling.cli import main

sys.exit(main())
