"""The package version, in a module of its own so that any subpackage can read it without
importing the package root (which would make runtime -> checkpoints -> trtmatte -> runtime a cycle)."""
__version__ = "0.1.0"
