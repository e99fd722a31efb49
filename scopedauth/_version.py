"""The version, written once: pyproject.toml reads it (hatch), the package exports it, and the
HTTP User-Agent carries it."""

__version__ = "0.1.0"
