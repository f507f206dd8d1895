"""Irradiance Analysis: its input model. Pydantic and the standard library only, so RunFunction
(the jobs layer, no numpy or pvlib) validates a request and answers 422 naming what to fix; the
computation and the job's `run` are the science layer's (`asyncjobs_science.irradiance`,
`asyncjobs_science.actions`), imported by ScienceExecutorFunction only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from asyncjobs.actions.base import ActionInput, FileId

__all__ = ["Horizon", "IrradianceInput", "PlaneFace", "Site", "Transposition", "unique_ids"]

Transposition = Literal["perez", "haydavies"]

WEATHER_FILE_DESCRIPTION = (
    "An uploaded comma-separated CSV of 8,760 hourly rows with columns ghi, dni, dhi (W/m²) and "
    "optionally temp_air (°C) and wind_speed (m/s), local standard time from 1 January 00:00 (a "
    "typical year, 29 February left out); else a clear-sky year, every hour cloudless, whose figures "
    "are an upper bound (the result's `warnings` says so). A file that does not parse fails the job "
    "`invalid_weather`."
)


class Site(ActionInput):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180, description="Degrees east (west is negative).")
    elevation_m: float = Field(0, ge=-500, le=9000)
    timezone: str = Field(
        min_length=1,
        max_length=64,
        description="IANA name; hours are its standard time.",
        examples=["America/Denver"],
    )

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: give an IANA name such as 'America/Denver'"
            ) from None
        return value

    def standard_offset_hours(self, year: int) -> float:
        """The zone's standard UTC offset: the smaller of January's and July's (DST adds an hour)."""
        zone = ZoneInfo(self.timezone)
        offsets = [datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)]
        return min(o.total_seconds() for o in offsets if o is not None) / 3600


Horizon = list[tuple[float, float]]


class PlaneFace(ActionInput):
    id: str = Field(min_length=1, max_length=64)
    tilt_deg: float = Field(ge=0, le=90)
    azimuth_deg: float = Field(ge=0, lt=360, description="Direction the face looks: 180 = south.")
    horizon: Horizon | None = Field(
        None,
        min_length=2,
        max_length=720,
        description="(azimuth°, elevation°) points of the skyline seen from the face, interpolated "
        "linearly around the circle; the beam is blocked when the sun is below it.",
    )

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, points: Horizon | None) -> Horizon | None:
        for azimuth, elevation in points or []:
            if not (0 <= azimuth < 360 and 0 <= elevation <= 90):
                raise ValueError(
                    f"horizon point ({azimuth}, {elevation}): azimuth must be in [0, 360) and elevation "
                    "in [0, 90] degrees"
                )
        return points


def unique_ids(faces: list[PlaneFace] | list[ActionInput]) -> None:
    ids = [getattr(f, "id") for f in faces]  # noqa: B009 (faces of several models)
    if len(set(ids)) != len(ids):
        raise ValueError("faces: every face needs a distinct id")


class IrradianceInput(ActionInput):
    site: Site
    faces: list[PlaneFace] = Field(min_length=1, max_length=200)
    year: int = Field(2023, ge=1900, le=2100)
    transposition: Transposition = "perez"
    albedo: float = Field(0.2, ge=0, le=1)
    weather_file: FileId | None = Field(None, description=WEATHER_FILE_DESCRIPTION)

    @model_validator(mode="after")
    def _unique(self) -> IrradianceInput:
        unique_ids(self.faces)
        return self
