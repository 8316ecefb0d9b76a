"""The registry over HTTP: the JSON API (``api``) and the server-rendered console
(``console``), assembled by ``app.create_app``. The two edges share ``deps``, ``errors`` and
``security`` and never import each other (an import-linter contract in ``make test``)."""
