"""AutoDesigner: as many modules as fit in each face's usable area (e.g. what fire pathway placement
left), in rows along the face's dominant edge.

The search, per usable polygon: the row direction is each of the polygon's two longest edge
directions (or the one the caller gives); the orientation is portrait, landscape or the better of
the two (not mixed within a polygon); the row offset across the slope is tried at `offset_steps`
positions within one row pitch, and within each row the offset along it at as many positions, each
row independently (rows never overlap, so the best of each row is the best of all: columns need not
line up). A module counts when its rectangle lies inside the polygon (shapely `contains`, with 1 µm
of tolerance for round-off on rotated outlines). Ties go to the smaller offset, so a rectangle is
filled from its corner. Exhaustive over this grid, not a proof of the optimum for irregular shapes.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import Field, model_validator
from shapely import Polygon
from shapely.affinity import rotate

from asyncjobs.actions.base import ActionInput
from asyncjobs_science.geometry import Ring, polygon_from

TOLERANCE_M = 1e-6


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
    azimuth_deg: float | None = Field(None, ge=0, lt=360)
    tilt_deg: float | None = Field(None, ge=0, lt=90)
    row_direction_deg: float | None = Field(
        None, ge=-180, le=180, description="Direction of the rows in face coordinates; else searched."
    )

    @model_validator(mode="after")
    def _polygons(self) -> DesignFace:
        for i, area in enumerate(self.usable):
            polygon_from(area.exterior, area.holes, what=f"face {self.id!r} usable[{i}]")
        return self

    def polygons(self) -> list[Polygon]:
        return [
            polygon_from(a.exterior, a.holes, what=f"face {self.id!r} usable[{i}]")
            for i, a in enumerate(self.usable)
        ]


class AutoDesignInput(ActionInput):
    faces: list[DesignFace] = Field(min_length=1, max_length=200)
    module: ModuleSpec
    orientation: Literal["portrait", "landscape", "both"] = "both"
    row_spacing_m: float = Field(0.0, ge=0, le=5, description="Gap between rows (up the slope).")
    column_spacing_m: float = Field(0.02, ge=0, le=5, description="Gap between modules in a row.")
    offset_steps: int = Field(8, ge=1, le=32, description="Offsets tried per row pitch, each way.")

    @model_validator(mode="after")
    def _unique(self) -> AutoDesignInput:
        if len({f.id for f in self.faces}) != len(self.faces):
            raise ValueError("faces: every face needs a distinct id")
        return self


def _directions(polygon: Polygon) -> list[float]:
    """The two longest edge directions, in degrees modulo 90 (a grid is the same turned a quarter)."""
    coords = np.asarray(polygon.exterior.coords)
    d = np.diff(coords, axis=0)
    lengths = np.hypot(d[:, 0], d[:, 1])
    angles = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 90
    found: list[float] = []
    for i in np.argsort(-lengths, kind="stable"):
        angle = float(angles[i])
        if all(min(abs(angle - a), 90 - abs(angle - a)) > 0.01 for a in found):
            found.append(angle)
        if len(found) == 2:
            break
    return found


def _fill(target: Polygon, bounds: tuple[float, ...], mw: float, mh: float, gx: float, gy: float, steps: int):
    """The best rows of mw x mh modules in the (axis-aligned) frame: their lower-left corners."""
    minx, miny, maxx, maxy = bounds
    px, py = mw + gx, mh + gy
    best: list[tuple[float, float]] = []
    for oy in np.arange(steps) * py / steps:
        rows: list[tuple[float, float]] = []
        for y in np.arange(miny + oy, maxy - mh + TOLERANCE_M, py):
            row: list[tuple[float, float]] = []
            for ox in np.arange(steps) * px / steps:
                xs = np.arange(minx + ox, maxx - mw + TOLERANCE_M, px)
                if len(xs) <= len(row):
                    continue
                inside = shapely.contains(target, shapely.box(xs, y, xs + mw, y + mh))
                if inside.sum() > len(row):
                    row = [(float(x), float(y)) for x in xs[inside]]
            rows += row
        if len(rows) > len(best):
            best = rows
    return best


def layout_polygon(polygon: Polygon, inputs: AutoDesignInput, direction: float | None) -> dict[str, Any]:
    """The best layout of one usable polygon over the searched directions and orientations."""
    m = inputs.module
    shapes = {"portrait": (m.width_m, m.height_m), "landscape": (m.height_m, m.width_m)}
    orientations = ["portrait", "landscape"] if inputs.orientation == "both" else [inputs.orientation]
    directions = [direction] if direction is not None else _directions(polygon)
    best: dict[str, Any] = {
        "count": 0,
        "orientation": orientations[0],
        "direction": directions[0],
        "corners": [],
    }
    for angle in directions:
        frame = rotate(polygon, -angle, origin=(0, 0))
        target = frame.buffer(TOLERANCE_M, join_style="mitre")
        shapely.prepare(target)
        for orientation in orientations:
            mw, mh = shapes[orientation]
            corners = _fill(
                target,
                frame.bounds,
                mw,
                mh,
                inputs.column_spacing_m,
                inputs.row_spacing_m,
                inputs.offset_steps,
            )
            if len(corners) > best["count"]:
                best = {
                    "count": len(corners),
                    "orientation": orientation,
                    "direction": angle,
                    "corners": corners,
                }
    mw, mh = shapes[best["orientation"]]
    c, s = math.cos(math.radians(best["direction"])), math.sin(math.radians(best["direction"]))

    def back(x: float, y: float) -> list[float]:
        return [round(x * c - y * s, 4), round(x * s + y * c, 4)]

    modules = [
        [back(x, y), back(x + mw, y), back(x + mw, y + mh), back(x, y + mh)] for x, y in best["corners"]
    ]
    return {
        "count": best["count"],
        "orientation": best["orientation"],
        "row_direction_deg": round(best["direction"], 4),
        "modules": modules,
    }


def design(inputs: AutoDesignInput) -> dict[str, Any]:
    """Module rectangles per face (corners in face metres, counter-clockwise), counts and DC size."""
    watts = inputs.module.watts
    faces = []
    for face in inputs.faces:
        areas = [layout_polygon(p, inputs, face.row_direction_deg) for p in face.polygons()]
        count = sum(a["count"] for a in areas)
        faces.append(
            {
                "id": face.id,
                "azimuth_deg": face.azimuth_deg,
                "tilt_deg": face.tilt_deg,
                "count": count,
                "dc_kw": round(count * watts / 1000, 4),
                "areas": areas,
            }
        )
    total = sum(f["count"] for f in faces)
    return {
        "module": inputs.module.model_dump(),
        "count": total,
        "dc_kw": round(total * watts / 1000, 4),
        "faces": faces,
        "method": "grid search per usable polygon: 2 longest edge directions x orientation x "
        f"{inputs.offset_steps} row offsets x {inputs.offset_steps} offsets along each row; shapely contains",
    }
