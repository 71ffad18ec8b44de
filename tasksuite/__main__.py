"""``python -m tasksuite``: the ``tasksuite`` command."""

import sys

from tasksuite.cli import main

if __name__ == "__main__":
    sys.exit(main())
