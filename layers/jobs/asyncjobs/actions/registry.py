"""The action registry. Adding an action: write a module declaring `ACTION`, list it below.

Only input models are imported here; heavy libraries are imported inside each action's `run`, so
the run and status functions never pay for them at cold start.
"""

from __future__ import annotations

from asyncjobs.actions import diagnostic, extracttext, highlight, proposal_pdf
from asyncjobs.actions.base import Action

__all__ = ["ACTIONS", "get_action"]


def _registry(*actions: Action) -> dict[str, Action]:
    found: dict[str, Action] = {}
    for action in actions:
        if action.name in found:
            raise ValueError(f"two actions are named {action.name!r}")
        found[action.name] = action
    return found


ACTIONS: dict[str, Action] = _registry(
    diagnostic.ACTION, proposal_pdf.ACTION, highlight.ACTION, extracttext.ACTION
)


def get_action(name: str) -> Action | None:
    return ACTIONS.get(name)
