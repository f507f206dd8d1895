"""AutoDesigner: its input model, pydantic and the standard library only, so RunFunction validates
it (polygons by `actions.polygons`, not shapely: see there why). The computation and the job's
`run` are the science layer's (`asyncjobs_science.autodesigner`, `asyncjobs_science.actions`).

Chained from Fire Pathway Placement: each face of its result has `id`, `usable`, `tilt_deg` and
`azimuth_deg` under the names of `DesignFace`; pass those four keys of each face as `faces` (the
face's other keys, setbacks and areas, are not `DesignFace` fields). A usable polygon's `area_m2` is
accepted and ignored. A face's usable polygons may overlap or touch: they are merged before the
layout, so no two modules overlap."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from asyncjobs.actions.base import ActionInput
from asyncjobs.actions.irradiance import unique_ids
from asyncjobs.actions.polygons import Ring, cap_vertices, check_polygon

__all__ = ["AreaPolygon", "AutoDesignInput", "DesignFace", "ModuleSpec"]


class AreaPolygon(ActionInput):
    exterior: Ring
    holes: list[Ring] = Field(default_factory=list, max_length=100)
    area_m2: float | None = Field(None, description="Ignored (fire pathways' output can be passed as is).")


class ModuleSpec(ActionInput):
    width_m: float = Field(gt=0.1, le=5, description="Short side, along the row in portrait.")
    height_m: float = Field(gt=0.1, le=5, description="Long side, up the slope in portrait.")
    watts: float = Field(gt=0, le=2000, description="Nameplate DC power at STC.")


class DesignFace(ActionInput):
    id: str = Field(min_length=1, max_length=64)
    usable: list[AreaPolygon] = Field(max_length=100, description="Where modules may go, in face metres.")
    azimuth_deg: float | None = Field(
        None, ge=0, lt=360, description="Echoed in the result, for performance simulation."
    )
    tilt_deg: float | None = Field(
        None, ge=0, lt=90, description="Echoed in the result, for performance simulation."
    )
    row_direction_deg: float | None = Field(
        None, ge=-180, le=180, description="Direction of the rows in face coordinates; else searched."
    )

    @model_validator(mode="after")
    def _polygons(self) -> DesignFace:
        for i, area in enumerate(self.usable):
            check_polygon(area.exterior, area.holes, what=f"face {self.id!r} usable[{i}]")
        return self


class AutoDesignInput(ActionInput):
    faces: list[DesignFace] = Field(min_length=1, max_length=200)
    module: ModuleSpec
    orientation: Literal["portrait", "landscape", "both"] = "both"
    row_spacing_m: float = Field(0.0, ge=0, le=5, description="Gap between rows (up the slope).")
    column_spacing_m: float = Field(0.02, ge=0, le=5, description="Gap between modules in a row.")
    offset_steps: int = Field(8, ge=1, le=32, description="Offsets tried per row pitch, each way.")

    @model_validator(mode="before")
    @classmethod
    def _cap(cls, data: Any) -> Any:
        return cap_vertices(data)

    @model_validator(mode="after")
    def _unique(self) -> AutoDesignInput:
        unique_ids(self.faces)
        return self
