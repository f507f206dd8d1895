"""Routes declared from actions: one route function per action, whose signature the router
validates and Powertools documents, and the path patterns they share."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from asyncjobs.http.params import Body, Path
from asyncjobs.http.router import Response
from asyncjobs.jobs.ids import PATH_PARAM_PATTERN
from asyncjobs.tenancy.tenants import TENANT_ID_PATTERN

if TYPE_CHECKING:  # the actions' input models import pydantic
    from asyncjobs.actions.base import Action

__all__ = ["ACTION_INPUT", "BODY", "PATH_PARAM_PATTERN", "TENANT_ID_PATTERN", "action_route", "resolver_path"]


def _params(action: Action) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("tenant_id", kw, annotation=Annotated[str, Path(pattern=TENANT_ID_PATTERN)])]
    params += [
        inspect.Parameter(name, kw, annotation=Annotated[str, Path(pattern=PATH_PARAM_PATTERN)])
        for name in action.path_params
    ]
    return params


ACTION_INPUT: Any = object()
"""In `action_route`'s `extra`: the action's input model, as the JSON body."""


class _ActionRoute:
    """A route function for one action (see `action_route`). Its signature is built when first
    read, which the router does when it first serves the route: the action's input model, so its
    module and pydantic, is imported then. The run function declares a route per action and serves
    one on its first event; importing every input model at cold start cost ~6-10 ms more
    (measured 2026-11-26, 2 shared cores), against a budget of ~50 ms above the floor."""

    def __init__(
        self, action: Action, handler: Callable[..., Response], extra: list[tuple[Any, ...]], name: str
    ) -> None:
        self.action = action
        self.handler = handler
        self.extra = extra
        self.__name__ = self.__qualname__ = f"{name}_{action.name}"
        self.__doc__ = action.description

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        kw = inspect.Parameter.KEYWORD_ONLY
        params = _params(self.action)
        for e in self.extra:
            annotation = Annotated[self.action.input_model, BODY] if e[1] is ACTION_INPUT else e[1]
            default = e[2] if len(e) > 2 else inspect.Parameter.empty
            params.append(inspect.Parameter(e[0], kw, annotation=annotation, default=default))
        return inspect.Signature(params)

    def __call__(self, **kwargs: Any) -> Response:
        tenant_id = kwargs.pop("tenant_id")
        path_params = {p: kwargs.pop(p) for p in self.action.path_params}
        return self.handler(self.action, tenant_id, path_params, **kwargs)


def action_route(
    action: Action,
    handler: Callable[..., Response],
    extra: list[tuple[Any, ...]],
    name: str,
) -> Callable[..., Response]:
    """A route function for one action whose signature declares the tenant, the action's own
    path parameters and `extra` ((name, annotation[, default]) for body, query or headers;
    `ACTION_INPUT` for the action's input model as the body), so the router validates them and
    Powertools documents them in OpenAPI.
    `handler(action, tenant_id, path_params, **extra)` does the work."""
    return _ActionRoute(action, handler, extra, name)


def resolver_path(path: str) -> str:
    """`/a/{b}` (OpenAPI and API Gateway style) → `/a/<b>` (Powertools' route syntax)."""
    return path.replace("{", "<").replace("}", ">")


BODY = Body(embed=False)
