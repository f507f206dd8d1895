"""Polygon checks for the geometry actions' input models, in pure Python.

Why not shapely: these checks run in RunFunction, which has the jobs layer only (shapely, numpy and
the rest are the science layer's, carried by ScienceExecutorFunction alone), so a caller's mistake
is answered 422 at once instead of failing a queued job. They are the first line: finite vertices,
at least 3 distinct ones (a vertex repeated consecutively counts once: see `open_ring`), a
shoelace area of at least `MIN_AREA_M2`, no self-intersection (every pair of edges tested, pruned
by a sweep over x), and holes strictly inside their outline and apart from each other (no edge of
a hole touching the outline or another hole, by the same sweep over every ring's edges; then each
hole's first vertex inside the outline and outside the other holes, by point-in-polygon). The
science code checks the polygon again with shapely (`is_valid`) and fails the job
`invalid_geometry` if that second line finds something this one let through. This check is the
stricter of the two: shapely accepts a hole touching its outline or another hole at one point.

Cost: the edge-pair test is quadratic in the worst case (edges whose extents all overlap), so a
ring is capped at `MAX_RING_VERTICES` and an input at `MAX_INPUT_VERTICES` (the request body
limit of 256 KiB allows about that many anyway).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

__all__ = [
    "MAX_INPUT_VERTICES",
    "MAX_RING_VERTICES",
    "MIN_AREA_M2",
    "Point",
    "Ring",
    "cap_vertices",
    "check_polygon",
    "open_ring",
]

Point = tuple[float, float]
MAX_RING_VERTICES = 500
MAX_INPUT_VERTICES = 20_000
Ring = Annotated[list[Point], Field(min_length=3, max_length=MAX_RING_VERTICES)]

MIN_AREA_M2 = 0.01
"""Below this a polygon is a sliver (or a mistake in units), not a roof face."""

_FIX = "list the vertices in order around the outline, without self-intersections or repeated points"


def open_ring(vertices: list[Point], what: str) -> list[Point]:
    """The ring as its distinct vertices in order: a vertex repeated consecutively counts once (it
    makes no edge), and a closing repeat of the first vertex is dropped. Edge i runs from ring[i]
    to ring[i + 1] (the last back to ring[0]): what fire pathways' `edges` are counted against."""
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in vertices):
        raise ValueError(f"{what}: every vertex must be a finite (x, y) in metres")
    ring: list[Point] = []
    for point in vertices:
        if not ring or point != ring[-1]:
            ring.append((float(point[0]), float(point[1])))
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()  # an explicitly closed ring: accept it
    if len(set(ring)) < 3:
        raise ValueError(f"{what}: a polygon needs at least 3 distinct vertices")
    return ring


_open_ring = open_ring  # its former name


def shoelace_area(ring: list[Point]) -> float:
    """The (unsigned) area enclosed by an open ring."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def _orientation(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    value = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    return (value > 0) - (value < 0)


def _on_segment(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    """p, collinear with a-b, lies within the segment's extent."""
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def _touch(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether the closed segments a-b and c-d share a point."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = a, b, c, d
    o1, o2 = _orientation(ax, ay, bx, by, cx, cy), _orientation(ax, ay, bx, by, dx, dy)
    o3, o4 = _orientation(cx, cy, dx, dy, ax, ay), _orientation(cx, cy, dx, dy, bx, by)
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _on_segment(ax, ay, bx, by, cx, cy))
        or (o2 == 0 and _on_segment(ax, ay, bx, by, dx, dy))
        or (o3 == 0 and _on_segment(cx, cy, dx, dy, ax, ay))
        or (o4 == 0 and _on_segment(cx, cy, dx, dy, bx, by))
    )


def self_intersection(ring: list[Point]) -> tuple[int, int] | None:
    """The first pair of edges (by index; edge i runs from vertex i to the next) that cross, touch
    or overlap where they should not, else None. Adjacent edges may share their common vertex only."""
    n = len(ring)
    edges = [(ring[i], ring[(i + 1) % n]) for i in range(n)]
    # Adjacent edges: collinear and folding back on each other is an overlap (a spike).
    for i in range(n):
        (ax, ay), (bx, by) = edges[i]
        cx, cy = edges[(i + 1) % n][1]
        if _orientation(ax, ay, bx, by, cx, cy) == 0 and (bx - ax) * (cx - bx) + (by - ay) * (cy - by) < 0:
            return (i, (i + 1) % n)
    # Other pairs: sweep over x, testing only edges whose x extents overlap (then y extents).
    boxes = sorted(
        (min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1]), i)
        for i, (a, b) in enumerate(edges)
    )
    for k, (_, maxx, miny, maxy, i) in enumerate(boxes):
        for minx2, _, miny2, maxy2, j in boxes[k + 1 :]:
            if minx2 > maxx:
                break
            if miny2 > maxy or maxy2 < miny or abs(i - j) in (1, n - 1):
                continue
            if _touch(*edges[i], *edges[j]):
                return (min(i, j), max(i, j))
    return None


def ring_contact(rings: list[list[Point]]) -> tuple[int, int, int, int] | None:
    """The first pair of edges of two different rings that cross, touch or overlap, as
    (ring, edge, other ring, other edge) with ring < other ring, else None. One sweep over x across
    every ring's edges, as in `self_intersection` (pairs within a ring are that function's)."""
    boxes = sorted(
        (min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1]), r, i, a, b)
        for r, ring in enumerate(rings)
        for i, (a, b) in enumerate(zip(ring, ring[1:] + ring[:1], strict=True))
    )
    for k, (_, maxx, miny, maxy, r, i, a, b) in enumerate(boxes):
        for minx2, _, miny2, maxy2, r2, j, c, d in boxes[k + 1 :]:
            if minx2 > maxx:
                break
            if r2 == r or miny2 > maxy or maxy2 < miny:
                continue
            if _touch(a, b, c, d):
                return (r, i, r2, j) if r < r2 else (r2, j, r, i)
    return None


def point_in_ring(point: Point, ring: list[Point]) -> bool:
    """Whether a point strictly inside or outside the ring (not on it) is inside: ray casting."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _bounds(ring: list[Point]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _holes_problem(ring: list[Point], inners: list[list[Point]]) -> str | None:
    """What is wrong with the holes of a polygon whose rings are each valid, else None.

    1. No edge of a hole may touch an edge of the outline or of another hole (one sweep: see
       `ring_contact`). Shapely would accept a single touching point; refusing any contact keeps
       this test to segments (and a hole flush with the outline is better drawn as a notch in it).
    2. With no contact, each ring is wholly inside or wholly outside any other, so one vertex
       decides: a hole's first vertex must be inside the outline, and outside every other hole
       (holes whose boxes do not nest are skipped: O(vertices) per candidate pair).
    """
    contact = ring_contact([ring, *inners])
    if contact is not None:
        r, i, r2, j = contact
        if r == 0:
            return (
                f"hole {r2 - 1}: its edge {j} touches or crosses edge {i} of the outline; a hole must lie "
                "strictly inside the outline (a cut-out flush with the outline belongs in the outline)"
            )
        return (
            f"hole {r - 1}: its edge {i} touches or crosses edge {j} of hole {r2 - 1}; holes must not "
            "touch or overlap (draw overlapping cut-outs as one hole)"
        )
    bounds = [_bounds(inner) for inner in inners]
    for h, inner in enumerate(inners):
        if not point_in_ring(inner[0], ring):
            return f"hole {h}: it lies outside the outline; a hole must lie strictly inside the outline"
        x0, y0, x1, y1 = bounds[h]
        for g, other in enumerate(inners):
            gx0, gy0, gx1, gy1 = bounds[g]
            if (
                g != h
                and gx0 <= x0
                and x1 <= gx1
                and gy0 <= y0
                and y1 <= gy1
                and point_in_ring(inner[0], other)
            ):
                return f"hole {h}: it lies inside hole {g}; holes must not overlap"
    return None


def check_polygon(exterior: list[Point], holes: list[list[Point]] | None = None, *, what: str) -> float:
    """Checks a polygon (and its holes) as described above; returns its area (m², holes taken out),
    else raises ValueError naming `what` (and the hole at fault, if one is) and the fix."""
    ring = _open_ring(exterior, what)
    crossing = self_intersection(ring)
    if crossing is not None:
        raise ValueError(
            f"{what}: the polygon is invalid (Self-intersection between edges {crossing[0]} and "
            f"{crossing[1]}); {_FIX}"
        )
    area = shoelace_area(ring)
    inners = []
    for h, hole in enumerate(holes or []):
        inner = _open_ring(hole, f"{what} hole {h}")
        crossing = self_intersection(inner)
        if crossing is not None:
            raise ValueError(
                f"{what} hole {h}: the hole is invalid (Self-intersection between edges {crossing[0]} "
                f"and {crossing[1]}); {_FIX}"
            )
        inners.append(inner)
        area -= shoelace_area(inner)
    problem = _holes_problem(ring, inners) if inners else None
    if problem is not None:
        raise ValueError(f"{what} {problem}")
    if area < MIN_AREA_M2:
        raise ValueError(
            f"{what}: the polygon's area is {area:.4g} m², below {MIN_AREA_M2} m²; "
            "coordinates are metres on the roof plane"
        )
    return area


def _points(data: object, depth: int = 0) -> int:
    if isinstance(data, dict):
        return sum(_points(v, depth + 1) for v in data.values()) if depth < 8 else 0
    if isinstance(data, list | tuple):
        if len(data) == 2 and all(isinstance(v, int | float) for v in data):
            return 1
        return sum(_points(v, depth + 1) for v in data) if depth < 8 else 0
    return 0


def cap_vertices(data: object) -> object:
    """A `mode="before"` check of a whole input: its (x, y) points counted before any polygon is
    checked, so the checks above stay cheap however many rings a request holds."""
    total = _points(data)
    if total > MAX_INPUT_VERTICES:
        raise ValueError(
            f"faces: {total} vertices in all; at most {MAX_INPUT_VERTICES} per request (simplify the "
            "outlines or split the roof into several requests)"
        )
    return data
