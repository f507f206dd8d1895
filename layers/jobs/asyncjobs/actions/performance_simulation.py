"""Performance Simulation: its input model, pydantic and the standard library only (as
`actions.irradiance`, whose site and faces it extends). The computation and the job's `run` are
the science layer's (`asyncjobs_science.performance`, `asyncjobs_science.actions`).

Chained from AutoDesigner: each face of its result with modules carries `id`, `tilt_deg`,
`azimuth_deg`, `dc_kw` and `module_count` under the same names as `SystemFace` (its
`performance_faces` list is exactly that, ready to pass as `faces`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from asyncjobs.actions.base import ActionInput, FileId
from asyncjobs.actions.irradiance import WEATHER_FILE_DESCRIPTION, PlaneFace, Site, Transposition, unique_ids

__all__ = ["Inverter", "PerformanceInput", "SystemFace", "TemperatureModel"]

TemperatureModel = Literal[
    "close_mount_glass_glass",
    "open_rack_glass_glass",
    "open_rack_glass_polymer",
    "insulated_back_glass_polymer",
]


class SystemFace(PlaneFace):
    dc_kw: float = Field(gt=0, le=100_000, description="Nameplate DC of the modules on this face.")
    module_count: int | None = Field(
        None, ge=1, le=100_000, description="Modules on this face (AutoDesigner's); echoed in the result."
    )


class Inverter(ActionInput):
    ac_kw: float = Field(gt=0, le=100_000, description="AC rating (the output is clipped there).")
    nominal_efficiency: float = Field(0.96, gt=0.5, le=1)


class PerformanceInput(ActionInput):
    site: Site
    faces: list[SystemFace] = Field(min_length=1, max_length=200)
    inverter: Inverter
    losses_percent: float | None = Field(
        None, ge=0, lt=100, description="System losses; PVWatts' default 14.08 % if not given."
    )
    gamma_pdc: float = Field(-0.0037, ge=-0.02, le=0, description="Power temperature coefficient, 1/°C.")
    temperature_model: TemperatureModel = "close_mount_glass_glass"
    year: int = Field(2023, ge=1900, le=2100)
    transposition: Transposition = "perez"
    albedo: float = Field(0.2, ge=0, le=1)
    weather_file: FileId | None = Field(None, description=WEATHER_FILE_DESCRIPTION)

    @model_validator(mode="after")
    def _unique(self) -> PerformanceInput:
        unique_ids(self.faces)
        return self
