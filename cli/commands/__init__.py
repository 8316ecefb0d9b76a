"""The commands of ``registry``, one module per group (``cli.main`` assembles them).

Each module imports only Typer, ``cli.common`` and light definitions at the top; what a command
needs (the services, SQLAlchemy, the web stack) is imported inside it when it runs, so that
``registry --help`` stays fast (``tests/test_cli_startup.py``).
"""
