import sys

from collections_mi.cli import main

sys.exit(main())
