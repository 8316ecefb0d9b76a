"""One function per operation. Services flush; the edge (API request, CLI command) commits."""
