"""The ``registry`` command line: parse, call one service, print. Nothing else."""
