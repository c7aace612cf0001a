"""The package version, in a module of its own so the checkpoint writer can read it without importing
the package that imports the checkpoint writer."""

__version__ = "0.1.0"
