"""Performance Simulation: a year of AC energy, hour by hour, with pvlib's PVWatts chain.

Per face: plane-of-array irradiance (`irradiance.plane_of_array`); the beam reduced by the glass's
angle-of-incidence loss (pvlib `iam.physical`, Fresnel/Beer, n = 1.526, as PVWatts V5 does);
cell temperature by the Sandia (SAPM) model for the chosen mounting; DC power by PVWatts
(`pvwatts_dc`: nameplate * effective irradiance / 1000 W/m² * (1 + gamma * (T_cell - 25 °C))). The faces'
DC is summed, reduced by the system losses (PVWatts' default 14.08 %, `pvwatts_losses`, unless
given), and converted by the PVWatts inverter model (`inverter.pvwatts`), which clips at the AC
rating. Specific yield is AC kWh per kWp DC; performance ratio is AC energy over what the nameplate
would give at the faces' plane-of-array irradiation (IEC 61724 reference yield).
Without weather the year is cloudless, so the yield is an upper bound (a clear-sky Golden, CO gives
~1,900 kWh/kWp where PVWatts' TMY gives ~1,600): `warnings` says so (`irradiance.CLEAR_SKY_WARNING`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from asyncjobs.actions.performance_simulation import Inverter, PerformanceInput, SystemFace, TemperatureModel
from asyncjobs_science.irradiance import PlaneOfArray, Weather, kwh_per_m2, plane_of_array

__all__ = [
    "Inverter",
    "PerformanceInput",
    "Simulation",
    "SystemFace",
    "TemperatureModel",
    "hourly_csv",
    "simulate",
]


def cell_temperature(poa_global: Any, temp_air: Any, wind_speed: Any, model: TemperatureModel) -> Any:
    import pvlib

    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][model]
    return pvlib.temperature.sapm_cell(poa_global, temp_air, wind_speed, **params)


def dc_power(effective_irradiance: Any, temp_cell: Any, dc_kw: float, gamma_pdc: float) -> Any:
    """PVWatts DC power (W)."""
    import pvlib

    return pvlib.pvsystem.pvwatts_dc(effective_irradiance, temp_cell, dc_kw * 1000, gamma_pdc)


def ac_power(dc_w: Any, inverter: Inverter) -> np.ndarray:
    """PVWatts inverter (W): `pdc0` is the DC input at which the output reaches the AC rating."""
    import pvlib

    pdc0 = inverter.ac_kw * 1000 / inverter.nominal_efficiency
    ac = pvlib.inverter.pvwatts(np.asarray(dc_w, dtype=float), pdc0, inverter.nominal_efficiency)
    return np.nan_to_num(np.asarray(ac, dtype=float)).clip(min=0)


@dataclass
class Simulation:
    summary: dict[str, Any]
    times: pd.DatetimeIndex
    ac_w: np.ndarray
    """Hourly AC power (W), 8,760 values: each is also the hour's energy in Wh."""
    dc_w: np.ndarray
    """Hourly DC power after losses (W)."""
    poa: PlaneOfArray


def simulate(inputs: PerformanceInput, weather: Weather | None = None) -> Simulation:
    import pvlib

    poa = plane_of_array(inputs.site, inputs.faces, inputs.year, inputs.transposition, inputs.albedo, weather)
    losses = pvlib.pvsystem.pvwatts_losses() if inputs.losses_percent is None else inputs.losses_percent
    dc_total = np.zeros(len(poa.times))
    reference_kwh = 0.0
    faces = []
    for face in inputs.faces:
        hourly = poa.faces[face.id]
        iam = np.nan_to_num(pvlib.iam.physical(hourly["aoi"].to_numpy()))
        effective = hourly["poa_direct"].to_numpy() * iam + hourly["poa_diffuse"].to_numpy()
        temp_cell = cell_temperature(
            hourly["poa_global"].to_numpy(),
            poa.sky["temp_air"].to_numpy(),
            poa.sky["wind_speed"].to_numpy(),
            inputs.temperature_model,
        )
        dc = np.asarray(dc_power(effective, temp_cell, face.dc_kw, inputs.gamma_pdc), dtype=float).clip(min=0)
        dc_total += dc
        insolation, _ = kwh_per_m2(hourly["poa_global"], poa.times)
        reference_kwh += face.dc_kw * insolation  # kWp * kWh/m² / (1 kW/m²)
        faces.append(
            {
                "id": face.id,
                "dc_kw": face.dc_kw,
                "poa_kwh_m2": round(insolation, 2),
                "dc_kwh_before_losses": round(float(dc.sum()) / 1000, 2),
            }
        )
    dc_after = dc_total * (1 - losses / 100)
    ac = ac_power(dc_after, inputs.inverter)
    annual, monthly = kwh_per_m2(ac, poa.times)
    dc_kw = sum(f.dc_kw for f in inputs.faces)
    ac_rating_w = inputs.inverter.ac_kw * 1000
    summary = {
        "annual_ac_kwh": round(annual, 2),
        "monthly_ac_kwh": [round(m, 2) for m in monthly],
        "annual_dc_kwh": round(float(dc_after.sum()) / 1000, 2),
        "dc_kw": round(dc_kw, 4),
        "ac_kw": inputs.inverter.ac_kw,
        "dc_ac_ratio": round(dc_kw / inputs.inverter.ac_kw, 3),
        "losses_percent": round(losses, 2),
        "specific_yield_kwh_per_kwp": round(annual / dc_kw, 1),
        "performance_ratio": round(annual / reference_kwh, 4) if reference_kwh else None,
        "clipped_hours": int((ac >= ac_rating_w * (1 - 1e-9)).sum()),
        "faces": faces,
        "models": {
            **poa.models,
            "iam": "physical (Fresnel/Beer, n 1.526) on the beam",
            "cell_temperature": f"SAPM {inputs.temperature_model}",
            "dc": f"PVWatts, gamma_pdc {inputs.gamma_pdc}/°C",
            "losses": "PVWatts default (pvwatts_losses)" if inputs.losses_percent is None else "as given",
            "inverter": f"PVWatts, nominal efficiency {inputs.inverter.nominal_efficiency}",
        },
        "warnings": list(poa.warnings),
    }
    return Simulation(summary, poa.times, ac, dc_after, poa)


def hourly_csv(simulation: Simulation) -> bytes:
    """The hourly AC and DC power (W, = Wh in the hour) as CSV, for the action to store."""
    frame = pd.DataFrame(
        {"ac_w": simulation.ac_w.round(2), "dc_w": simulation.dc_w.round(2)}, index=simulation.times
    )
    frame.index = frame.index.strftime("%Y-%m-%dT%H:%M%z")
    frame.index.name = "time"
    return frame.to_csv().encode()
