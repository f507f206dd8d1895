"""AutoDesigner: as many modules as fit in each face's usable area (e.g. what fire pathway placement
left), in rows along the face's dominant edge.

A face's usable polygons are merged first (shapely `unary_union`): a caller may describe one area
by overlapping pieces (an L as two rectangles), and laying out each piece on its own would put
modules on top of each other. Each `areas` entry of the result is one part of the merged area, with
its `area_m2` and the indices of the `usable` polygons it was made of (`usable`); pieces that only
touch along an edge become one part, so a module may straddle their common edge.

The search, per merged usable polygon: the row direction is each of the polygon's two longest edge
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
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely import Polygon
from shapely.affinity import rotate

from asyncjobs.actions.autodesigner import AreaPolygon, AutoDesignInput, DesignFace, ModuleSpec
from asyncjobs_science.geometry import checked_polygon, polygons_of

__all__ = ["AreaPolygon", "AutoDesignInput", "DesignFace", "ModuleSpec", "design", "layout_polygon"]

TOLERANCE_M = 1e-6


def face_polygons(face: DesignFace) -> list[Polygon]:
    """The face's usable polygons in shapely: the second check, after the input model's (a job
    fails `invalid_geometry` on what that one let through)."""
    return [
        checked_polygon(a.exterior, a.holes, what=f"face {face.id!r} usable[{i}]")
        for i, a in enumerate(face.usable)
    ]


def merged_areas(polygons: list[Polygon]) -> list[tuple[Polygon, list[int]]]:
    """The union of a face's usable polygons as disjoint parts, each with the indices of the input
    polygons that make it up, in the order of their first one. A single polygon is returned as is."""
    if len(polygons) <= 1:
        return [(p, [i]) for i, p in enumerate(polygons)]
    # simplify(0) drops the collinear vertices a union leaves where pieces met, so the longest
    # edges searched are the outline's, not fragments of it
    parts = [part.simplify(0) for part in polygons_of(shapely.unary_union(polygons))]
    merged = []
    for part in parts:
        sources = [i for i, p in enumerate(polygons) if part.intersection(p).area > 0]
        merged.append((part, sources))
    return sorted(merged, key=lambda m: m[1][:1])


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


def design(inputs: AutoDesignInput, on_face: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Module rectangles per face (corners in face metres, counter-clockwise), counts and DC size.
    `on_face(i)` is called before face i is laid out (the job reports progress there)."""
    watts = inputs.module.watts
    faces = []
    for index, face in enumerate(inputs.faces):
        if on_face is not None:
            on_face(index)
        areas = [
            {
                "usable": sources,
                "area_m2": round(part.area, 4),
                **layout_polygon(part, inputs, face.row_direction_deg),
            }
            for part, sources in merged_areas(face_polygons(face))
        ]
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
        "method": "a face's usable polygons merged (shapely unary_union), then a grid search per merged "
        "polygon: 2 longest edge directions x orientation x "
        f"{inputs.offset_steps} row offsets x {inputs.offset_steps} offsets along each row; shapely contains",
    }
