"""Example inputs of the design actions (fire pathways, AutoDesigner, irradiance, performance
simulation), shared by the unit, integration and end-to-end tests; and how each action's input is
built from the previous action's result, as a caller chains them."""

from __future__ import annotations

from typing import Any

SITE = {"latitude": 39.74, "longitude": -105.18, "elevation_m": 1829, "timezone": "America/Denver"}
MODULE = {"width_m": 1.134, "height_m": 1.722, "watts": 400}

# A gable roof: two 10 m x 6 m faces (on the roof plane), eave at y = 0, ridge at y = 6.
ROOF = {
    "faces": [
        {
            "id": "south",
            "vertices": [[0, 0], [10, 0], [10, 6], [0, 6]],
            "edges": ["eave", "rake", "ridge", "rake"],
            "tilt_deg": 30,
            "azimuth_deg": 180,
            "street_side": True,
        },
        {
            "id": "north",
            "vertices": [[0, 0], [10, 0], [10, 6], [0, 6]],
            "edges": ["eave", "rake", "ridge", "rake"],
            "tilt_deg": 30,
            "azimuth_deg": 0,
        },
    ],
    "array_plan_area_m2": 30,
}

IRRADIANCE = {"site": SITE, "faces": [{"id": "south", "tilt_deg": 30, "azimuth_deg": 180}]}

PERFORMANCE = {
    "site": SITE,
    "faces": [{"id": "south", "tilt_deg": 30, "azimuth_deg": 180, "dc_kw": 6.0, "module_count": 15}],
    "inverter": {"ac_kw": 5.0},
}

PROPOSAL_CUSTOMER = {
    "customer": {"name": "Ada Lovelace", "address": "1 Analytical Way"},
    "module_model": "Example 400 W",
    "price_per_watt": 2.8,
    "electricity_rate_per_kwh": 0.16,
}

BOWTIE = [[0, 0], [4, 4], [4, 0], [0, 4]]


def autodesigner_input(fire_pathways_result: dict[str, Any]) -> dict[str, Any]:
    """AutoDesigner's input from fire pathways' result: each face's id, usable area, tilt and azimuth
    under the same names."""
    faces = [
        {k: f[k] for k in ("id", "usable", "tilt_deg", "azimuth_deg")} for f in fire_pathways_result["faces"]
    ]
    return {"faces": faces, "module": MODULE}


def performance_input(autodesigner_result: dict[str, Any]) -> dict[str, Any]:
    """Performance Simulation's input from AutoDesigner's result (`performance_faces`)."""
    return {"site": SITE, "faces": autodesigner_result["performance_faces"], "inverter": {"ac_kw": 14.0}}


def proposal_input(performance_result: dict[str, Any]) -> dict[str, Any]:
    """Proposal PDF's input from Performance Simulation's result (`proposal`) and the customer's."""
    return {**PROPOSAL_CUSTOMER, **performance_result["proposal"]}
