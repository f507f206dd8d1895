"""Irradiance Analysis: plane-of-array irradiance of each roof face, hour by hour for a year, with
monthly and annual totals (kWh/m²).

The chain (pvlib): solar position by the NREL SPA (Reda & Andreas 2004); clear-sky GHI/DNI/DHI by
Ineichen-Perez with the climatological Linke turbidity of pvlib's bundled `LinkeTurbidities.h5`
(SoDa), or Solis (simplified, Ineichen 2008) when that file cannot be read, or the caller's weather
(TMY-style hourly GHI/DNI/DHI) instead; transposition by Perez 1990 or Hay-Davies 1980, ground
reflection isotropic with the given albedo. A horizon profile shades the beam (direct) component
when the sun is below it; the diffuse sky is not reduced (no sky view factor): a simplification.
Without weather every hour is cloudless, so the figures are an upper bound: the result's
`warnings` says so (`CLEAR_SKY_WARNING`).

Time: the 8,760 hours of `year` in local standard time (no daylight saving; 29 February left out,
as in TMY files), each hour's row standing for the hour that starts at it; the sun is placed at its
middle (hh:30). The result names the models used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from asyncjobs.actions.irradiance import Horizon, IrradianceInput, PlaneFace, Site, Transposition
from asyncjobs.errors import ActionFailed

__all__ = [
    "CLEAR_SKY_WARNING",
    "HOURS",
    "MAX_WEATHER_BYTES",
    "Horizon",
    "IrradianceInput",
    "PlaneFace",
    "PlaneOfArray",
    "Site",
    "Transposition",
    "Weather",
    "analyse",
    "hourly_csv",
    "parse_weather_csv",
    "plane_of_array",
]

HOURS = 8760
MAX_WEATHER_BYTES = 4_000_000
CLEAR_SKY_WARNING = (
    "no weather file: every hour is cloudless (clear-sky model): these figures are an upper bound, "
    "not a typical year's (a site's clouds take roughly 15-45 % off); pass an hourly weather file "
    "(weather_file, e.g. a TMY year) for an expected yield"
)
DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Weather:
    """Hourly weather for the 8,760 hours (W/m², °C, m/s); `None` columns take defaults."""

    ghi: np.ndarray
    dni: np.ndarray
    dhi: np.ndarray
    temp_air: np.ndarray | None = None
    wind_speed: np.ndarray | None = None
    source: str = "caller's hourly weather"

    def __post_init__(self) -> None:
        for name in ("ghi", "dni", "dhi", "temp_air", "wind_speed"):
            values = getattr(self, name)
            if values is None:
                continue
            values = np.asarray(values, dtype=float)
            if values.shape != (HOURS,):
                raise ActionFailed(
                    "invalid_weather", f"weather: {name} has {values.size} values, not {HOURS}"
                )
            if not np.isfinite(values).all():
                first = int(np.argmin(np.isfinite(values)))
                raise ActionFailed(
                    "invalid_weather",
                    f"weather: {name} has missing or non-numeric values (the first at data row {first + 1})",
                )
            if name in ("ghi", "dni", "dhi", "wind_speed") and (values < 0).any():
                first = int(np.argmax(values < 0))
                raise ActionFailed(
                    "invalid_weather",
                    f"weather: {name} has negative values "
                    f"(the first, {values[first]:g}, at data row {first + 1})",
                )
            setattr(self, name, values)


def parse_weather_csv(data: bytes) -> Weather:
    """A `Weather` from CSV bytes (a header naming ghi, dni, dhi, [temp_air, wind_speed]).

    Comma-separated only; a message names what was read and where: the header line as read when a
    column is missing (a file saved with semicolons or tabs reads as one column), and the column,
    line number (the header is line 1) and value of the first value that is not a finite number."""
    try:
        text = data.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ActionFailed("invalid_weather", f"weather file: not a UTF-8 CSV ({error})") from None
    if not rows:
        raise ActionFailed("invalid_weather", "weather file: no rows")
    columns = {name.strip().lower(): name for name in reader.fieldnames or [] if name}
    missing = [c for c in ("ghi", "dni", "dhi") if c not in columns]
    if missing:
        header = next((line for line in text.splitlines() if line.strip()), "")
        shown = header if len(header) <= 200 else header[:200] + "..."
        others = [name for d, name in DELIMITERS.items() if d in header and len(columns) <= 1]
        hint = f" (it looks {others[0]}-separated)" if others else ""
        raise ActionFailed(
            "invalid_weather",
            f"weather file: missing column(s) {', '.join(missing)}; the header read was {shown!r}{hint}: "
            "the file must be comma-separated, its first line naming ghi, dni, dhi "
            "(and optionally temp_air, wind_speed)",
        )

    def column(name: str) -> np.ndarray | None:
        if name not in columns:
            return None
        values = np.empty(len(rows))
        for i, row in enumerate(rows):
            raw = row[columns[name]]
            try:
                values[i] = float(raw)
            except (TypeError, ValueError):
                values[i] = np.nan
            if not np.isfinite(values[i]):
                if raw is None:
                    shown = "none: the line has fewer values than the header"
                else:
                    shown = "empty" if not raw.strip() else repr(raw[:40])
                raise ActionFailed(
                    "invalid_weather",
                    f"weather file: column {name} has a non-number ({shown}) on line {lines[i]} "
                    f"(data row {i + 1})",
                )
        return values

    return Weather(
        ghi=column("ghi"),  # type: ignore[arg-type]
        dni=column("dni"),  # type: ignore[arg-type]
        dhi=column("dhi"),  # type: ignore[arg-type]
        temp_air=column("temp_air"),
        wind_speed=column("wind_speed"),
        source="uploaded hourly weather file",
    )


def hours(site: Site, year: int) -> pd.DatetimeIndex:
    """The middle of each of the year's 8,760 hours, local standard time (29 February left out)."""
    offset = site.standard_offset_hours(year)
    sign = "-" if offset < 0 else "+"
    tz = f"UTC{sign}{int(abs(offset)):02d}:{round(abs(offset) % 1 * 60):02d}"
    start = pd.Timestamp(year=year, month=1, day=1, hour=0, minute=30, tz=tz)
    times = pd.date_range(start, periods=HOURS + 24, freq="h")
    times = times[~((times.month == 2) & (times.day == 29))]
    return times[:HOURS]


def solar_position(site: Site, times: pd.DatetimeIndex, **spa: Any) -> pd.DataFrame:
    """NREL SPA (pvlib `nrel_numpy`): apparent zenith/elevation with refraction, and azimuth.
    `spa` passes pressure (Pa), temperature (°C) or delta_t (s) through."""
    import pvlib

    return pvlib.solarposition.get_solarposition(
        times, site.latitude, site.longitude, altitude=site.elevation_m, method="nrel_numpy", **spa
    )


def clear_sky(site: Site, times: pd.DatetimeIndex, position: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Clear-sky GHI/DNI/DHI and the model's name: Ineichen-Perez with climatological Linke
    turbidity when pvlib's turbidity file reads, else simplified Solis."""
    import pvlib

    location = pvlib.location.Location(site.latitude, site.longitude, altitude=site.elevation_m)
    try:
        turbidity = pvlib.clearsky.lookup_linke_turbidity(times, site.latitude, site.longitude)
    except (ImportError, OSError, KeyError):
        sky = location.get_clearsky(times, model="simplified_solis", solar_position=position)
        return sky, "simplified Solis (Ineichen 2008), default aerosol and water vapour"
    sky = location.get_clearsky(times, model="ineichen", solar_position=position, linke_turbidity=turbidity)
    return sky, "Ineichen-Perez with climatological Linke turbidity (pvlib LinkeTurbidities.h5)"


def horizon_elevation(horizon: Horizon, azimuth: np.ndarray) -> np.ndarray:
    """The skyline's elevation at each azimuth, linear between points, around the circle."""
    points = sorted(horizon)
    az = np.array([p[0] for p in points])
    el = np.array([p[1] for p in points])
    return np.interp(np.asarray(azimuth) % 360, az, el, period=360)


@dataclass
class PlaneOfArray:
    """Hourly results: the times, the sky (ghi, dni, dhi, temp_air, wind_speed) and each face's
    poa_global, poa_direct, poa_diffuse and aoi, plus the models used."""

    times: pd.DatetimeIndex
    position: pd.DataFrame
    sky: pd.DataFrame
    faces: dict[str, pd.DataFrame]
    models: dict[str, str]
    beam_shaded_kwh_m2: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """What the figures' reader must know: `CLEAR_SKY_WARNING` when there was no weather."""


def plane_of_array(
    site: Site,
    faces: list[PlaneFace],
    year: int,
    transposition: Transposition = "perez",
    albedo: float = 0.2,
    weather: Weather | None = None,
) -> PlaneOfArray:
    """Hourly plane-of-array irradiance (W/m²) of each face for the year."""
    import pvlib

    times = hours(site, year)
    temperature = 12.0 if weather is None or weather.temp_air is None else weather.temp_air
    position = solar_position(site, times, temperature=temperature)
    if weather is None:
        sky, sky_model = clear_sky(site, times, position)
        sky_model += "; no weather file: clear sky every hour (no clouds)"
    else:
        sky, sky_model = (
            pd.DataFrame({"ghi": weather.ghi, "dni": weather.dni, "dhi": weather.dhi}, index=times),
            (weather.source),
        )
    sky = sky.assign(
        temp_air=20.0 if weather is None or weather.temp_air is None else weather.temp_air,
        wind_speed=1.0 if weather is None or weather.wind_speed is None else weather.wind_speed,
    )
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    airmass = pvlib.atmosphere.get_relative_airmass(position["apparent_zenith"])
    results: dict[str, pd.DataFrame] = {}
    shaded: dict[str, float] = {}
    for face in faces:
        poa = pvlib.irradiance.get_total_irradiance(
            face.tilt_deg,
            face.azimuth_deg,
            position["apparent_zenith"],
            position["azimuth"],
            sky["dni"],
            sky["ghi"],
            sky["dhi"],
            dni_extra=dni_extra,
            airmass=airmass,
            albedo=albedo,
            model=transposition,
        ).fillna(0.0)
        aoi = pvlib.irradiance.aoi(
            face.tilt_deg, face.azimuth_deg, position["apparent_zenith"], position["azimuth"]
        )
        direct = poa["poa_direct"].to_numpy()
        if face.horizon:
            blocked = position["apparent_elevation"].to_numpy() < horizon_elevation(
                face.horizon, position["azimuth"].to_numpy()
            )
            shaded[face.id] = float(direct[blocked].sum() / 1000)
            direct = np.where(blocked, 0.0, direct)
        diffuse = poa["poa_sky_diffuse"].to_numpy() + poa["poa_ground_diffuse"].to_numpy()
        results[face.id] = pd.DataFrame(
            {
                "poa_global": direct + diffuse,
                "poa_direct": direct,
                "poa_diffuse": diffuse,
                "aoi": aoi.to_numpy(),
            },
            index=times,
        )
    models = {
        "solar_position": "NREL SPA (Reda & Andreas 2004), pvlib nrel_numpy, refraction at site pressure",
        "irradiance": sky_model,
        "transposition": {"perez": "Perez 1990 (allsitescomposite1990)", "haydavies": "Hay-Davies 1980"}[
            transposition
        ],
        "ground_reflection": f"isotropic, albedo {albedo}",
        "horizon": "beam blocked below the horizon profile; diffuse not reduced",
        "time": "8,760 hours, local standard time, sun at mid-hour",
    }
    warnings = [CLEAR_SKY_WARNING] if weather is None else []
    return PlaneOfArray(times, position, sky, results, models, shaded, warnings)


def kwh_per_m2(series: pd.Series | np.ndarray, times: pd.DatetimeIndex) -> tuple[float, list[float]]:
    """Annual and monthly sums of hourly W/m² (or W), in kWh/m² (or kWh)."""
    values = pd.Series(np.asarray(series, dtype=float), index=times) / 1000
    monthly = values.groupby(times.month).sum().reindex(range(1, 13), fill_value=0.0)
    return float(values.sum()), [float(v) for v in monthly]


def analyse(inputs: IrradianceInput, weather: Weather | None = None) -> tuple[dict[str, Any], PlaneOfArray]:
    """The JSON summary (models, site and per-face annual and monthly kWh/m²) and the hourly data."""
    poa = plane_of_array(inputs.site, inputs.faces, inputs.year, inputs.transposition, inputs.albedo, weather)

    def totals(series: Any) -> dict[str, Any]:
        annual, monthly = kwh_per_m2(series, poa.times)
        return {"annual_kwh_m2": round(annual, 2), "monthly_kwh_m2": [round(m, 2) for m in monthly]}

    faces = []
    for face in inputs.faces:
        hourly = poa.faces[face.id]
        summary = {"id": face.id, "tilt_deg": face.tilt_deg, "azimuth_deg": face.azimuth_deg}
        summary |= totals(hourly["poa_global"])
        if face.id in poa.beam_shaded_kwh_m2:
            summary["beam_shaded_kwh_m2"] = round(poa.beam_shaded_kwh_m2[face.id], 2)
        faces.append(summary)
    site = {name: totals(poa.sky[name]) for name in ("ghi", "dni", "dhi")}
    summary = {"models": poa.models, "year": inputs.year, "site": site, "faces": faces}
    return {**summary, "warnings": list(poa.warnings)}, poa


def hourly_csv(poa: PlaneOfArray) -> bytes:
    """The hourly plane-of-array irradiance of every face as CSV (for the action to store)."""
    frame = pd.DataFrame(
        {f"{face}_poa_global": data["poa_global"].round(2) for face, data in poa.faces.items()}
    )
    frame.insert(0, "ghi", poa.sky["ghi"].round(2))
    frame.index = frame.index.strftime("%Y-%m-%dT%H:%M%z")
    frame.index.name = "time"
    return frame.to_csv().encode()
