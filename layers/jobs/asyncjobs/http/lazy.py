"""Modules loaded on first use, for the cold start of functions that may never need them."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module `name`, executed when one of its attributes is first read: the standard
    library's `importlib.util.LazyLoader` recipe. Route annotations name request bodies through
    such a module (`bodies.SubscriptionIn`): the router evaluates a route's annotations when the
    route first runs, so a function imports its body models, and pydantic with them, only once
    it serves a route that reads a body."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
