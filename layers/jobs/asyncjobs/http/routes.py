"""Routes declared from actions: one route function per action, whose signature the router
validates and Powertools documents, and the path patterns they share."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from asyncjobs.http.params import Body, Path
from asyncjobs.http.router import Response
from asyncjobs.jobs.ids import PATH_PARAM_PATTERN
from asyncjobs.tenancy.tenants import TENANT_ID_PATTERN

if TYPE_CHECKING:  # the actions' input models import pydantic
    from asyncjobs.actions.base import Action

__all__ = ["BODY", "PATH_PARAM_PATTERN", "TENANT_ID_PATTERN", "action_route", "resolver_path"]


def _params(action: Action) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("tenant_id", kw, annotation=Annotated[str, Path(pattern=TENANT_ID_PATTERN)])]
    params += [
        inspect.Parameter(name, kw, annotation=Annotated[str, Path(pattern=PATH_PARAM_PATTERN)])
        for name in action.path_params
    ]
    return params


def action_route(
    action: Action,
    handler: Callable[..., Response],
    extra: list[tuple[Any, ...]],
    name: str,
) -> Callable[..., Response]:
    """A route function for one action whose signature declares the tenant, the action's own
    path parameters and `extra` ((name, annotation[, default]) for body, query or headers), so
    the router validates them and Powertools documents them in OpenAPI.
    `handler(action, tenant_id, path_params, **extra)` does the work."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = _params(action) + [
        inspect.Parameter(e[0], kw, annotation=e[1], default=e[2] if len(e) > 2 else inspect.Parameter.empty)
        for e in extra
    ]

    def route(**kwargs: Any) -> Response:
        tenant_id = kwargs.pop("tenant_id")
        path_params = {p: kwargs.pop(p) for p in action.path_params}
        return handler(action, tenant_id, path_params, **kwargs)

    route.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    route.__name__ = f"{name}_{action.name}"
    route.__doc__ = action.description
    return route


def resolver_path(path: str) -> str:
    """`/a/{b}` (OpenAPI and API Gateway style) → `/a/<b>` (Powertools' route syntax)."""
    return path.replace("{", "<").replace("}", ">")


BODY = Body(embed=False)
