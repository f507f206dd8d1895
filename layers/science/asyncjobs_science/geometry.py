"""Polygons in and out: a face's outline as a list of (x, y) vertices in local metres on the roof
plane, checked once with a message that names what to fix, and shapely results written back as
plain coordinate lists for JSON results."""

from __future__ import annotations

import math
from typing import Any

from shapely import MultiPolygon, Polygon, make_valid, set_precision
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from asyncjobs.actions.polygons import MIN_AREA_M2, Point, Ring, check_polygon
from asyncjobs.errors import ActionFailed

__all__ = [
    "MIN_AREA_M2",
    "Point",
    "Ring",
    "checked_polygon",
    "polygon_from",
    "polygon_json",
    "polygons_of",
    "result_polygons",
]


def polygon_from(vertices: list[Point], holes: list[list[Point]] | None = None, *, what: str) -> Polygon:
    """A valid polygon with positive area, else ValueError naming `what` and the fix."""
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in vertices):
        raise ValueError(f"{what}: every vertex must be a finite (x, y) in metres")
    ring = list(vertices)
    if len(ring) > 3 and ring[0] == ring[-1]:
        ring = ring[:-1]  # an explicitly closed ring: accept it
    if len(ring) < 3:
        raise ValueError(f"{what}: a polygon needs at least 3 distinct vertices")
    polygon = Polygon(ring, holes or [])
    if not polygon.is_valid:
        if holes and Polygon(ring).is_valid:  # the outline alone is fine: a hole is at fault
            raise ValueError(
                f"{what}: a hole is invalid ({explain_validity(polygon)}); each hole must be a simple "
                "ring lying strictly inside the outline, apart from the other holes"
            )
        raise ValueError(
            f"{what}: the polygon is invalid ({explain_validity(polygon)}); list the vertices in order "
            "around the outline, without self-intersections or repeated points"
        )
    if polygon.area < MIN_AREA_M2:
        raise ValueError(
            f"{what}: the polygon's area is {polygon.area:.4g} m², below {MIN_AREA_M2} m²; "
            "coordinates are metres on the roof plane"
        )
    return polygon


def checked_polygon(vertices: list[Point], holes: list[list[Point]] | None = None, *, what: str) -> Polygon:
    """`polygon_from` for a computation whose input model has passed: the input models check
    polygons in pure Python (`asyncjobs.actions.polygons`, run where shapely is not installed), so
    shapely is the second line here, and what it still refuses fails the job `invalid_geometry`."""
    try:
        return polygon_from(vertices, holes, what=what)
    except ValueError as error:
        raise ActionFailed("invalid_geometry", str(error)) from None


def polygons_of(geometry: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons of a shapely result (which may be a Polygon, MultiPolygon or a
    collection with slivers of lower dimension)."""
    if geometry.is_empty:
        return []
    if not geometry.is_valid:
        geometry = make_valid(geometry)
    if isinstance(geometry, Polygon):
        return [geometry] if geometry.area > 0 else []
    found: list[Polygon] = []
    for part in getattr(geometry, "geoms", []):
        found += polygons_of(part)
    return found


def polygon_json(polygon: Polygon, digits: int = 4) -> dict[str, Any]:
    """`{"exterior": [[x, y], ...], "holes": [[[x, y], ...]], "area_m2"}` with open rings."""

    def ring(coords: Any) -> list[list[float]]:
        points = [[round(x, digits), round(y, digits)] for x, y in coords]
        return points[:-1]

    return {
        "exterior": ring(polygon.exterior.coords),
        "holes": [ring(interior.coords) for interior in polygon.interiors],
        "area_m2": round(polygon.area, digits),
    }


def result_polygons(geometry: BaseGeometry, digits: int = 4) -> list[Polygon]:
    """The polygons of a computed area as a result gives them to a caller who passes them on as
    input (fire pathways' `usable` to AutoDesigner): each with its coordinates on the grid of
    `digits` decimals (so `polygon_json` writes exactly them), and each passing both input checks,
    the pure one (`check_polygon`) and shapely's (`polygon_from`).

    Rounding each coordinate on its own can fold a thin part of a ring over itself, so the whole
    geometry is snapped to the grid at once (`set_precision` keeps it valid: a part that collapses
    goes, and the parts keep from overlapping); then pieces under `MIN_AREA_M2` (slivers left
    along a setback) are dropped. A piece the pure check still refuses (it is stricter than
    shapely: a hole touching the outline at one point) is shrunk by one grid step, which opens such
    a point, and dropped if that does not do. What is dropped is less usable area, never more.
    """
    grid = 10.0**-digits
    kept: list[Polygon] = []
    for piece in polygons_of(set_precision(MultiPolygon(polygons_of(geometry)), grid)):
        if piece.area < MIN_AREA_M2:
            continue
        if _passes_input_checks(piece, digits):
            kept.append(piece)
            continue
        shrunk = polygons_of(set_precision(piece.buffer(-grid, join_style="mitre"), grid))
        kept += [p for p in shrunk if p.area >= MIN_AREA_M2 and _passes_input_checks(p, digits)]
    return kept


def _passes_input_checks(polygon: Polygon, digits: int) -> bool:
    written = polygon_json(polygon, digits)
    try:
        check_polygon(written["exterior"], written["holes"], what="result")
        polygon_from(written["exterior"], written["holes"], what="result")
    except ValueError:
        return False
    return True
