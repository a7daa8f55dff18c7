"""Root conftest: keeps the project importable from a plain checkout and sets hypothesis profiles."""
