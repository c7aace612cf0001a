"""User-facing errors: raised for bad input and shown as one line by the command-line tools."""


class DmsilError(Exception):
    """A problem with what the user gave us (a file, a path, an option), not a bug in dmsil."""


class DataError(DmsilError):
    """A data file that cannot be used: missing, unreadable, or not the expected layout."""


class CheckpointError(DmsilError):
    """A checkpoint directory that cannot be loaded."""
