import sys

from offbatch.cli import main

sys.exit(main())
