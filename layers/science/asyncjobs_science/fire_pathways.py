"""Fire Pathway Placement: the roof areas kept clear of modules for firefighter access, and what is
left for the array.

Rule set: a simplified subset of the residential provisions of IFC 2018 §1204.2.1 and California
Residential Code 2019 §R324.6 (one- and two-family dwellings), plus the hip/valley setback of the
earlier IFC 2012/2015 §605.11.3.2 as the issue states it. Implemented:

1. Pathways (IFC 1204.2.1.1, CRC R324.6.1): two 36-inch (0.914 m) pathways on separate roof planes
   from the lowest roof edge to the ridge. Each is placed on a face that carries modules and has an
   eave, as a strip along one of its rake/gable edges (else a hip edge): that edge runs from eave to
   ridge, so the strip does too. Faces marked `street_side` are preferred (the code asks for one on
   the street or driveway side), then the largest; or the caller names the face and edge. A face
   without modules that has an eave and rises from it (a ridge, rake, gable or hip edge) is itself
   clear from eave to ridge, so it counts as one of the two (`clear_faces` in the result), as on
   a gable roof with the array on one face. A strip is still placed on each face with modules
   that can take one (up to two): adjacency is not known, and the code asks for a pathway on or
   next to each plane with an array.
2. Ridge setback (IFC 1204.2.1.2, CRC R324.6.2): 18 inches (0.457 m) on the face's side of each
   ridge when the array's plan-view area is at most 33 % of the roof's plan-view area, 36 inches
   (0.914 m) otherwise, and 36 inches when the array area is not given (the conservative reading).
3. Hips and valleys (IFC 2015 §605.11.3.2.3-4): 18 inches (0.457 m) clear on the face's side of each
   hip or valley. The faces are in their own plane coordinates, so adjacency is not known: the setback
   is applied whenever the face carries modules (as if the neighbour did too: conservative).

Not implemented (say so to the caller): the 66 % threshold with automatic sprinklers, the
single-ridge and low-slope exceptions, ground-level access points, emergency escape openings,
and the AHJ's own amendments. Eaves need no setback in these provisions.

Distances are measured on the roof plane from the edge segment (a shapely buffer with round ends,
intersected with the face); the usable area is the face minus every setback, in m², as polygons
that are AutoDesigner's input as they are (`geometry.result_polygons`: coordinates on the 0.1 mm
grid they are written with, still valid there, and no piece under 0.01 m²: a sliver left along a
setback is setback, not usable area).
"""

from __future__ import annotations

import math
from typing import Any

from shapely import LineString, Polygon, unary_union

from asyncjobs.actions.fire_pathways import SIDE_EDGES, EdgeKind, FirePathwayInput, PathwayChoice, RoofFace
from asyncjobs_science.geometry import Point, checked_polygon, polygon_json, polygons_of, result_polygons

INCH = 0.0254
PATHWAY_WIDTH_M = 36 * INCH
RIDGE_SETBACK_SMALL_ARRAY_M = 18 * INCH
RIDGE_SETBACK_LARGE_ARRAY_M = 36 * INCH
HIP_VALLEY_SETBACK_M = 18 * INCH
SMALL_ARRAY_FRACTION = 0.33

__all__ = ["RULES", "SIDE_EDGES", "EdgeKind", "FirePathwayInput", "PathwayChoice", "RoofFace", "place"]

RULES = {
    "code": "IFC 2018 §1204.2.1 / CRC 2019 §R324.6 (residential), simplified subset; hip/valley "
    "setback after IFC 2015 §605.11.3.2",
    "pathways": "two 0.914 m (36 in) eave-to-ridge pathways on separate faces: a strip along a "
    "rake/gable (else hip) edge of a face with modules, street-side faces first; a face without "
    "modules with an eave and a ridge, rake, gable or hip edge counts as one (clear from eave to ridge)",
    "ridge_setback": "0.457 m (18 in) if the array's plan-view area <= 33 % of the roof's, else (or "
    "if not given) 0.914 m (36 in)",
    "hip_valley_setback": "0.457 m (18 in) along every hip and valley of a face with modules",
    "not_implemented": "sprinklered 66 % threshold, single-ridge and low-slope exceptions, access "
    "points, escape openings, local amendments",
}


def face_polygon(face: RoofFace) -> Polygon:
    """The face's outline as a shapely polygon: the second check, after the input model's (a job
    fails `invalid_geometry` on what that one let through). Built from `face.ring`, the distinct
    vertices that `face.edges` are counted against, so edge i is exterior segment i."""
    return checked_polygon(face.ring, what=f"face {face.id!r}")


def _is_clear_pathway(face: RoofFace) -> bool:
    """A face without modules reaching from an eave up a ridge, rake, gable or hip edge: clear from
    eave to ridge, so itself a pathway."""
    return (
        not face.has_modules and "eave" in face.edges and any(k in ("ridge", *SIDE_EDGES) for k in face.edges)
    )


def _edge(polygon: Polygon, index: int) -> LineString:
    coords: list[Point] = list(polygon.exterior.coords)
    return LineString([coords[index], coords[index + 1]])


def _auto_pathways(faces: list[RoofFace], polygons: dict[str, Polygon]) -> list[PathwayChoice]:
    candidates = []
    for face in faces:
        if not face.has_modules or "eave" not in face.edges:
            continue
        sides = [i for i, kind in enumerate(face.edges) if kind in SIDE_EDGES]
        if not sides:
            continue
        # A rake/gable edge before a hip (a hip already has its 18-inch setback), the longest first.
        polygon = polygons[face.id]
        best = max(sides, key=lambda i: (face.edges[i] != "hip", _edge(polygon, i).length))
        candidates.append((face.street_side, polygon.area, face, best))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    return [PathwayChoice(face_id=face.id, edge_index=edge) for _, _, face, edge in candidates[:2]]


def _strip(face: RoofFace, polygon: Polygon, index: int, width: float, rule: str) -> dict[str, Any]:
    area = _edge(polygon, index).buffer(width).intersection(polygon)
    return {
        "rule": rule,
        "edge_index": index,
        "edge": face.edges[index],
        "width_m": round(width, 4),
        "geometry": area,
    }


def place(inputs: FirePathwayInput) -> dict[str, Any]:
    """Setback polygons and usable area per face, with the rules applied and any shortfall."""
    faces = inputs.faces
    polygons = {f.id: face_polygon(f) for f in faces}
    roof_plan_area = sum(polygons[f.id].area * _cos_deg(f.tilt_deg) for f in faces)
    fraction = None if inputs.array_plan_area_m2 is None else inputs.array_plan_area_m2 / roof_plan_area
    ridge_setback = (
        RIDGE_SETBACK_SMALL_ARRAY_M
        if fraction is not None and fraction <= SMALL_ARRAY_FRACTION
        else RIDGE_SETBACK_LARGE_ARRAY_M
    )
    chosen = inputs.pathways if inputs.pathways is not None else _auto_pathways(faces, polygons)
    pathway_on = {c.face_id: c.edge_index for c in chosen}
    clear = [f.id for f in faces if _is_clear_pathway(f)]
    placed = len(set(pathway_on) | set(clear))  # distinct faces (a named strip may be on a clear face)
    warnings = []
    if placed < 2:
        warnings.append(
            f"only {placed} of the 2 required pathways could be placed: a pathway is a strip on a face "
            "with modules, an eave and a rake, gable or hip edge, or a face without modules from eave "
            "to ridge; check the roof with the AHJ"
        )
    if fraction is None:
        warnings.append("array_plan_area_m2 not given: the 36-inch ridge setback was applied")

    results = []
    for face in faces:
        polygon = polygons[face.id]
        setbacks = []
        if face.has_modules:
            for index, kind in enumerate(face.edges):
                if kind == "ridge":
                    setbacks.append(_strip(face, polygon, index, ridge_setback, "ridge_setback"))
                elif kind in ("hip", "valley"):
                    setbacks.append(_strip(face, polygon, index, HIP_VALLEY_SETBACK_M, f"{kind}_setback"))
            if face.id in pathway_on:
                setbacks.append(_strip(face, polygon, pathway_on[face.id], PATHWAY_WIDTH_M, "pathway"))
            usable = result_polygons(polygon.difference(unary_union([s["geometry"] for s in setbacks])))
        else:
            usable = []
        usable_area = sum(p.area for p in usable)
        results.append(
            {
                "id": face.id,
                "tilt_deg": face.tilt_deg,
                "azimuth_deg": face.azimuth_deg,
                "area_m2": round(polygon.area, 4),
                "plan_area_m2": round(polygon.area * _cos_deg(face.tilt_deg), 4),
                "pathway": face.id in pathway_on or face.id in clear,
                "setbacks": [
                    {**{k: v for k, v in s.items() if k != "geometry"}, **_geometry_json(s["geometry"])}
                    for s in setbacks
                ],
                "setback_area_m2": round(polygon.area - usable_area, 4),
                "usable": [polygon_json(p) for p in usable],
                "usable_area_m2": round(usable_area, 4),
            }
        )
    return {
        "rules": RULES,
        "ridge_setback_m": round(ridge_setback, 4),
        "roof_plan_area_m2": round(roof_plan_area, 4),
        "array_plan_fraction": None if fraction is None else round(fraction, 4),
        "pathways": [{"face_id": c.face_id, "edge_index": c.edge_index} for c in chosen],
        "clear_faces": clear,
        "faces": results,
        "usable_area_m2": round(sum(f["usable_area_m2"] for f in results), 4),
        "warnings": warnings,
    }


def _geometry_json(geometry: Any) -> dict[str, Any]:
    parts = polygons_of(geometry)
    return {"polygons": [polygon_json(p) for p in parts], "area_m2": round(sum(p.area for p in parts), 4)}


def _cos_deg(degrees: float) -> float:
    return math.cos(math.radians(degrees))
