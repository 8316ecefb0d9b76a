"""The console: server-rendered pages for the people who run the registry, and the public
directory. An application of its own (``app``), mounted by ``registry.http.app``."""
