"""The action registry: every action's declaration. Adding an action: write a module with its
input model and its `run`, and declare it below. An action of the `science` profile keeps its
input model here in the jobs layer (pydantic and the standard library only: RunFunction validates
it) and its `run` in the science layer (`asyncjobs_science.actions`), which only
ScienceExecutorFunction carries.

Declarations only: an action's module (its input model, so pydantic) is imported when its input
model or implementation is first asked for, and heavy libraries inside its `run`, so that a
function that only routes or reads jobs never pays for them at cold start.
"""

from __future__ import annotations

from asyncjobs.actions.declaration import Action

__all__ = ["ACTIONS", "get_action"]


def _registry(*actions: Action) -> dict[str, Action]:
    found: dict[str, Action] = {}
    for action in actions:
        if action.name in found:
            raise ValueError(f"two actions are named {action.name!r}")
        found[action.name] = action
    return found


ACTIONS: dict[str, Action] = _registry(
    Action(
        name="diagnostic",
        path="/diagnostic",
        input="asyncjobs.actions.diagnostic:DiagnosticInput",
        implementation="asyncjobs.actions.diagnostic:run",
        summary="Run a controllable diagnostic job",
        description="Sleeps for a given time while reporting progress, optionally failing. For tests "
        "and benchmarks.",
    ),
    Action(
        name="proposal_pdf",
        path="/designs/{design_id}/proposal_pdf",
        input="asyncjobs.actions.proposal_pdf:ProposalInput",
        implementation="asyncjobs.actions.proposal_pdf:run",
        summary="Generate a proposal PDF for a design",
        description="Computes the price, savings and payback of a design and renders a customer-facing "
        "PDF. The result lists the file with a download URL valid for a few minutes from each status call.",
    ),
    Action(
        name="highlight",
        path="/highlight",
        input="asyncjobs.actions.highlight:HighlightInput",
        implementation="asyncjobs.actions.highlight:run",
        summary="Highlight words and phrases in a text",
        description="Wraps each case-insensitive whole-word match of the comma-separated terms of "
        "`highlight_expression` in `start_tag` … `end_tag`. The text is plain text: `<`, `>` and `&` in it "
        'are escaped in the result. Result: `{"text": "..."}`.',
    ),
    Action(
        name="extracttext",
        path="/extracttext",
        input="asyncjobs.actions.extracttext:ExtractTextInput",
        implementation="asyncjobs.actions.extracttext:run",
        summary="Extract the text of an uploaded file (PDF or UTF-8 text)",
        description="Reads a file uploaded beforehand (its id in `file`) and returns its text: "
        '`{"document": [{"content", "content_type", "pages"}]}`. PDFs (detected by their content) are '
        "read page by page; other files must be UTF-8 text, else the job fails `unsupported_file`.",
    ),
    Action(
        name="fire_pathways",
        path="/designs/{design_id}/fire_pathways",
        input="asyncjobs.actions.fire_pathways:FirePathwayInput",
        implementation="asyncjobs_science.actions:run_fire_pathways",
        profile="science",
        summary="Place fire pathways and setbacks on a roof (Fire Pathway Placement)",
        description="Applies a simplified subset of IFC 2018 §1204.2.1 / CRC 2019 §R324.6 (two 36-inch "
        "eave-to-ridge pathways, the 18/36-inch ridge setback) and the 18-inch hip/valley setback of "
        "IFC 2015 §605.11.3.2 to each face, and returns the setback polygons and the usable area per "
        "face (`faces[].usable`), with the rules applied and what is not implemented. Each face's `id`, "
        "`usable`, `tilt_deg` and `azimuth_deg` are AutoDesigner's `faces[]` fields.",
    ),
    Action(
        name="autodesigner",
        path="/designs/{design_id}/autodesigner",
        input="asyncjobs.actions.autodesigner:AutoDesignInput",
        implementation="asyncjobs_science.actions:run_autodesigner",
        profile="science",
        summary="Lay out as many modules as fit in each face's usable area (AutoDesigner)",
        description="A grid search per usable polygon (edge directions, orientation, row and column "
        "offsets). The result gives module counts and DC size per face, `performance_faces` (Performance "
        "Simulation's `faces`) and the full layout as the file `layout.json` (module corners are also "
        "inline while the result stays under 32 KiB).",
    ),
    Action(
        name="irradiance",
        path="/designs/{design_id}/irradiance",
        input="asyncjobs.actions.irradiance:IrradianceInput",
        implementation="asyncjobs_science.actions:run_irradiance",
        profile="science",
        summary="Plane-of-array irradiance of each face over a year (Irradiance Analysis)",
        description="pvlib: NREL SPA solar position, Ineichen-Perez clear sky (or an uploaded typical-year "
        "weather file), Perez or Hay-Davies transposition, horizon shading of the beam. The result has "
        "annual and monthly kWh/m² per face and the models used; the hourly values (8,760 rows) are the "
        "file `irradiance_hourly.csv`.",
    ),
    Action(
        name="performance_simulation",
        path="/designs/{design_id}/performance_simulation",
        input="asyncjobs.actions.performance_simulation:PerformanceInput",
        implementation="asyncjobs_science.actions:run_performance_simulation",
        profile="science",
        summary="Simulate a year of AC energy, hour by hour (Performance Simulation)",
        description="pvlib's PVWatts chain: plane-of-array irradiance as Irradiance Analysis, physical "
        "IAM, SAPM cell temperature, PVWatts DC, PVWatts losses and inverter. The result has annual and "
        "monthly AC kWh, specific yield, performance ratio and `proposal` (the Proposal PDF input fields "
        "it provides); the hourly AC and DC power (8,760 rows) is the file `performance_hourly.csv`.",
    ),
)


def get_action(name: str) -> Action | None:
    return ACTIONS.get(name)
