"""An action's declaration: its name, its path, its documentation, and where its input model and
implementation are. Kept free of pydantic: the registry declares every action, and the functions
that only route or read jobs (status, webhooks, Haven's status poll, the reconciler) must not pay
~65 ms of cold start for input models they never use. The input model and implementation are
imported on first use when given as `"module:attribute"` references."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asyncjobs.actions.profiles import DEFAULT_PROFILE, profile_of

if TYPE_CHECKING:
    from asyncjobs.actions.base import ActionInput, JobContext

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = re.compile(r"^([a-z0-9_-]+|\{[A-Za-z_][A-Za-z0-9_]*\})$")


def _resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Action:
    name: str
    path: str
    """Resource path below /v2/tenants/{tenant_id}, ending in the action name."""
    input: type[ActionInput] | str
    """The input model, or `"module:Class"`: imported when first asked for (`input_model`)."""
    implementation: Callable[[Any, JobContext], Any] | str
    """What runs the job, or `"module:function"`: imported when first asked for (`run`)."""
    summary: str
    description: str = ""
    profile: str = DEFAULT_PROFILE
    """Its runtime profile (`actions.profiles`): which queue, so which executor function, runs it."""

    def __post_init__(self) -> None:
        profile_of(self.profile)  # an unknown profile fails at import, not at the first run
        segments = self.path.strip("/").split("/")
        if not self.path.startswith("/") or segments[-1] != self.name:
            raise ValueError(
                f"action {self.name!r}: path {self.path!r} must start with / and end with the name"
            )
        bad = [s for s in segments if not _SEGMENT.match(s)]
        if bad or "tenant_id" in self.path_params:
            raise ValueError(f"action {self.name!r}: invalid path segments {bad or ['{tenant_id}']}")

    @property
    def input_model(self) -> type[ActionInput]:
        model: type[ActionInput] = _resolve(self.input)
        return model

    @property
    def run(self) -> Callable[[Any, JobContext], Any]:
        run: Callable[[Any, JobContext], Any] = _resolve(self.implementation)
        return run

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def run_path(self) -> str:
        return f"/v2/tenants/{{tenant_id}}{self.path}/run"

    @property
    def status_path(self) -> str:
        return f"/v2/tenants/{{tenant_id}}{self.path}/status"
