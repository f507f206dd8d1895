"""AutoDesigner counts against counts computed by hand, and layouts checked by geometry alone."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from shapely import Polygon, unary_union
from shapely.affinity import rotate

from asyncjobs_science.autodesigner import AutoDesignInput, design
from asyncjobs_science.fire_pathways import FirePathwayInput, place

MODULE = {"width_m": 1.134, "height_m": 1.722, "watts": 400}
GAP = 0.02


def _fits(length: float, module: float, gap: float) -> int:
    """Modules of `module` with `gap` between them along `length`, by hand: n·module + (n-1)·gap <= L."""
    return math.floor((length + gap) / (module + gap))


def _inputs(polygons, **kwargs):
    faces = [{"id": "f", "usable": [{"exterior": p} for p in polygons], "azimuth_deg": 180, "tilt_deg": 30}]
    return AutoDesignInput(
        faces=faces,
        module=MODULE,
        row_spacing_m=GAP,
        column_spacing_m=GAP,
        **{"orientation": "both", **kwargs},
    )


def _check_layout(result, polygons):
    """Every module lies inside the usable area, none overlap, each has the module's size."""
    area = unary_union([Polygon(p) for p in polygons]).buffer(1e-4)
    rects = [Polygon(m) for face in result["faces"] for a in face["areas"] for m in a["modules"]]
    assert all(area.contains(r) for r in rects)
    assert all(r.area == pytest.approx(MODULE["width_m"] * MODULE["height_m"], rel=1e-3) for r in rects)
    assert unary_union(rects).area == pytest.approx(sum(r.area for r in rects), rel=1e-6)
    assert len(rects) == result["count"]


def test_fire_pathways_output_rectangle_count_by_hand():
    # Given the usable rectangle fire pathways leaves on a 10 m x 6 m face: 9.0856 m x 5.5428 m
    pathways = place(
        FirePathwayInput(
            faces=[
                {
                    "id": "f",
                    "vertices": [(0, 0), (10, 0), (10, 6), (0, 6)],
                    "edges": ["eave", "rake", "ridge", "rake"],
                }
            ],
            array_plan_area_m2=10,
        )
    )
    usable = pathways["faces"][0]["usable"]
    w, h = 10 - 0.9144, 6 - 0.4572

    # When it is laid out in portrait, landscape, and the better of the two
    counts = {}
    for orientation in ("portrait", "landscape", "both"):
        inputs = AutoDesignInput(
            faces=[{"id": "f", "usable": usable}],
            module=MODULE,
            orientation=orientation,
            row_spacing_m=GAP,
            column_spacing_m=GAP,
        )
        counts[orientation] = design(inputs)

    # Then the counts are floor((W + gap) / (w + gap)) x floor((H + gap) / (h + gap)) each way
    portrait = _fits(w, 1.134, GAP) * _fits(h, 1.722, GAP)  # 7 x 3
    landscape = _fits(w, 1.722, GAP) * _fits(h, 1.134, GAP)  # 5 x 4
    assert (portrait, landscape) == (21, 20)
    assert counts["portrait"]["count"] == portrait
    assert counts["landscape"]["count"] == landscape
    assert (
        counts["both"]["count"] == 21 and counts["both"]["faces"][0]["areas"][0]["orientation"] == "portrait"
    )
    assert counts["both"]["dc_kw"] == pytest.approx(21 * 0.4)
    _check_layout(counts["both"], [[tuple(p) for p in usable[0]["exterior"]]])


def test_rotated_rectangle_finds_its_edge_direction():
    # Given the same 9.0856 x 5.5428 rectangle turned 30° in the face's coordinates
    rect = Polygon([(0, 0), (9.0856, 0), (9.0856, 5.5428), (0, 5.5428)])
    turned = [tuple(c) for c in rotate(rect, 30, origin=(3, 1)).exterior.coords[:-1]]
    result = design(_inputs([turned]))
    assert result["count"] == 21
    assert result["faces"][0]["areas"][0]["row_direction_deg"] == pytest.approx(30, abs=1e-6)
    _check_layout(result, [turned])


def test_l_shape_tiles_exactly_when_modules_divide_it():
    # Given an L of 48 m² (8 x 4 below, 4 x 4 above on the left) and 1 m x 2 m modules without gaps
    ell = [(0, 0), (8, 0), (8, 4), (4, 4), (4, 8), (0, 8)]
    inputs = AutoDesignInput(
        faces=[{"id": "L", "usable": [{"exterior": ell}]}],
        module={"width_m": 1, "height_m": 2, "watts": 300},
        row_spacing_m=0,
        column_spacing_m=0,
    )
    # Then the layout reaches the area bound: 48 / 2 = 24 modules
    assert design(inputs)["count"] == 24


def test_l_shape_with_real_modules_between_a_hand_layout_and_the_area_bound():
    ell = [(0, 0), (8, 0), (8, 4), (4, 4), (4, 8), (0, 8)]
    result = design(_inputs([ell], orientation="portrait"))
    # By hand, rows from the bottom-left corner: 2 rows of 6 in the 8 m width (y 0-3.464), then 2
    # rows of 3 in the 4 m wide upper part (rows at 3.484 and 5.226; the second ends at 6.948 <= 8): 18
    hand = 2 * _fits(8, 1.134, GAP) + 2 * _fits(4, 1.134, GAP)
    assert hand == 18
    assert hand <= result["count"] <= math.floor(48 / (1.134 * 1.722))
    _check_layout(result, [ell])


def test_too_small_an_area_gives_no_modules_not_an_error():
    result = design(_inputs([[(0, 0), (1, 0), (1, 1), (0, 1)]]))
    assert result["count"] == 0 and result["dc_kw"] == 0


def test_invalid_inputs_are_refused_with_what_to_fix():
    with pytest.raises(ValidationError, match=r"face 'f' usable\[0\]: the polygon is invalid"):
        _inputs([[(0, 0), (4, 4), (4, 0), (0, 4)]])
    with pytest.raises(ValidationError, match="width_m"):
        AutoDesignInput(faces=[{"id": "f", "usable": []}], module={**MODULE, "width_m": 0})


def test_overlapping_usable_polygons_of_a_face_never_give_overlapping_modules():
    # Given an L-shaped usable area described, as a designer may, by two overlapping rectangles
    # (8 x 4 along the eave, 4 x 8 up the left side; 48 m² in all)
    below = [(0, 0), (8, 0), (8, 4), (0, 4)]
    left = [(0, 0), (4, 0), (4, 8), (0, 8)]
    try:
        inputs = _inputs([below, left])
    except ValidationError:
        return  # refused at once (a 422 naming the overlap) is fine too
    # When it is laid out
    result = design(inputs)
    # Then no two modules overlap, and there are no more than the area can hold
    rects = [Polygon(m) for face in result["faces"] for a in face["areas"] for m in a["modules"]]
    assert unary_union(rects).area == pytest.approx(sum(r.area for r in rects), rel=1e-6)
    assert result["count"] <= math.floor(48 / (MODULE["width_m"] * MODULE["height_m"]))


def test_a_faces_usable_polygons_are_laid_out_as_their_union_and_reported_so():
    # Given an L as two overlapping rectangles and, apart from it, a third rectangle
    below = [(0, 0), (8, 0), (8, 4), (0, 4)]
    apart = [(20, 0), (24, 0), (24, 8), (20, 8)]
    left = [(0, 0), (4, 0), (4, 8), (0, 8)]
    result = design(_inputs([below, apart, left]))
    # Then there is one area per part of the union, naming the usable polygons it was made of
    areas = result["faces"][0]["areas"]
    assert [(a["usable"], a["area_m2"]) for a in areas] == [([0, 2], 48.0), ([1], 32.0)]
    _check_layout(result, [below, apart, left])
    # and the L is laid out once: as many modules as the L alone gives
    assert areas[0]["count"] == design(_inputs([below, left]))["count"]
