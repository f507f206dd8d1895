"""Fire Pathway Placement: its input model, pydantic and the standard library only, so RunFunction
validates it (outlines by `actions.polygons`, not shapely: see there why). The rule set, the
computation and the job's `run` are the science layer's (`asyncjobs_science.fire_pathways`,
`asyncjobs_science.actions`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from asyncjobs.actions.base import ActionInput
from asyncjobs.actions.irradiance import unique_ids
from asyncjobs.actions.polygons import Ring, cap_vertices, check_polygon, open_ring

__all__ = ["SIDE_EDGES", "EdgeKind", "FirePathwayInput", "PathwayChoice", "RoofFace"]

EdgeKind = Literal["eave", "ridge", "hip", "valley", "rake", "gable"]
SIDE_EDGES = ("rake", "gable", "hip")


class RoofFace(ActionInput):
    id: str = Field(min_length=1, max_length=64)
    vertices: Ring = Field(
        description="The face's outline as (x, y) in metres on the roof plane (not the plan view), "
        "in order around it; a closing repeat of the first vertex is optional, and a vertex repeated "
        "consecutively counts once (it makes no edge)."
    )
    edges: list[EdgeKind] = Field(
        min_length=3,
        max_length=500,
        description="The kind of each edge, one per distinct vertex: `edges[i]` runs from the i-th "
        "distinct vertex to the next (repeats of a vertex, and a closing repeat, are not edges).",
    )
    tilt_deg: float = Field(0, ge=0, lt=90, description="Slope of the face, for its plan-view area.")
    azimuth_deg: float | None = Field(
        None, ge=0, lt=360, description="Direction the face looks (180 = south); echoed in the result."
    )
    has_modules: bool = Field(True, description="Whether modules may go on this face.")
    street_side: bool = Field(False, description="Faces the street or driveway: preferred for a pathway.")

    @property
    def ring(self) -> list[tuple[float, float]]:
        """The outline's distinct vertices, as the polygon check counts them (`open_ring`: no
        closing repeat, a consecutive repeat once): edge i runs from ring[i] to ring[i + 1], and
        `edges[i]` is its kind. The science code builds the face's polygon from this ring."""
        return open_ring(self.vertices, f"face {self.id!r}")

    @model_validator(mode="after")
    def _outline(self) -> RoofFace:
        check_polygon(self.vertices, what=f"face {self.id!r}")
        ring = self.ring
        if len(self.edges) != len(ring):
            repeats = len(self.vertices) - len(ring)
            dropped = (
                f" ({len(self.vertices)} vertices given, {repeats} of them a repeat of the vertex "
                "before or a closing repeat of the first: a repeated vertex makes no edge)"
                if repeats
                else ""
            )
            raise ValueError(
                f"face {self.id!r}: {len(self.edges)} edge kinds for {len(ring)} edges{dropped}; give "
                "one kind per edge between distinct vertices, in vertex order"
            )
        return self


class PathwayChoice(ActionInput):
    face_id: str = Field(min_length=1, max_length=64)
    edge_index: int = Field(ge=0, description="The rake, gable or hip edge the pathway runs along.")


class FirePathwayInput(ActionInput):
    faces: list[RoofFace] = Field(min_length=1, max_length=200)
    array_plan_area_m2: float | None = Field(
        None,
        ge=0,
        description="Plan-view area of the intended array, for the 33 % ridge rule; if not given the "
        "36-inch ridge setback applies.",
    )
    pathways: list[PathwayChoice] | None = Field(
        None,
        max_length=2,
        description="Where the two pathways go; if not given they are placed automatically.",
    )

    @model_validator(mode="before")
    @classmethod
    def _cap(cls, data: Any) -> Any:
        return cap_vertices(data)

    @model_validator(mode="after")
    def _references(self) -> FirePathwayInput:
        unique_ids(self.faces)
        by_id = {face.id: face for face in self.faces}
        for choice in self.pathways or []:
            face = by_id.get(choice.face_id)
            if face is None:
                raise ValueError(f"pathways: no face has id {choice.face_id!r}")
            if choice.edge_index >= len(face.edges) or face.edges[choice.edge_index] not in SIDE_EDGES:
                raise ValueError(
                    f"pathways: edge {choice.edge_index} of face {face.id!r} is not a rake, gable or hip "
                    "edge (a pathway runs from eave to ridge along one)"
                )
        if self.pathways and len({c.face_id for c in self.pathways}) != len(self.pathways):
            raise ValueError("pathways: the two pathways must be on separate faces")
        return self
