"""Where a route parameter comes from, and its constraints: `Annotated[str, Path(pattern=...)]`.

The same markers serve twice: the Lambda handlers' router (`http.router`) reads and validates
requests with them, and the OpenAPI document is built from them offline by Powertools
(`http.openapi.powertools_app` turns each into Powertools' own `Path`, `Query`, `Header` or
`Body`, given the same keyword arguments). They are ours, not Powertools', because importing
Powertools' classes imports its whole event handler package (see `http.router`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Keyword arguments that only shape where a value is read or how it is documented, never its
# validation (pydantic's Field would refuse `embed`).
_NOT_CONSTRAINTS = frozenset({"embed", "description", "examples", "title"})


@dataclass(frozen=True)
class Param:
    where: str  # "path" | "query" | "header" | "body"
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def constraints(self) -> dict[str, Any]:
        """What a value must satisfy (pydantic `Field` keyword arguments)."""
        return {k: v for k, v in self.options if k not in _NOT_CONSTRAINTS}


def Path(**kwargs: Any) -> Param:
    return Param("path", tuple(kwargs.items()))


def Query(**kwargs: Any) -> Param:
    return Param("query", tuple(kwargs.items()))


def Header(**kwargs: Any) -> Param:
    """A header named like the parameter, underscores as dashes (`idempotency_key` reads
    `Idempotency-Key`), as Powertools' `Header` does."""
    return Param("header", tuple(kwargs.items()))


def Body(**kwargs: Any) -> Param:
    """The JSON body. Only `embed=False` (the body is the value itself) is supported."""
    if kwargs.get("embed", False):
        raise ValueError("only Body(embed=False) is supported")
    return Param("body", tuple(kwargs.items()))
