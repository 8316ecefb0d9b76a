"""The console's pages, one module per area, each with its router and its templates in
``templates/<area>/``. Pages call the same service functions as the API and the CLI, and ask
``registry.permissions`` what to show; one request is one transaction."""
