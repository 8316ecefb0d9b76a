"""The test suite. Imported before ``tests.conftest`` and the command line's modules."""

import os

# pytest-xdist's workers start with COLUMNS=80 in their environment, and rich fixes a console's
# width for good when the console is made (at the import of ``cli.common``) if COLUMNS is set;
# the tests that ask for a wide terminal (COLUMNS in the command's own environment) would then
# get 80 columns under ``-n``. Without it, rich reads COLUMNS each time it prints, as in a
# terminal.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
