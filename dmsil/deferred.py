"""Modules that third-party packages import at start-up but that this project's path rarely or never uses,
left out of start-up: the first attribute asked of one imports it then."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute asked of it imports the
    module itself (which then replaces it there). Python 3.11's ``import`` statement reads ``__spec__`` of
    a module it finds, which makes :class:`importlib.util.LazyLoader`'s modules load at once."""

    def __getattr__(self, attr: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def defer(*names: str) -> None:
    """Put a stand-in for each module named (installed and not imported yet) in ``sys.modules``."""
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            sys.modules[name] = _Deferred(name)
