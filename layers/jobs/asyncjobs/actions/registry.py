"""The action registry: every action's declaration. Adding an action: write a module with its
input model and its `run`, and declare it below.

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
)


def get_action(name: str) -> Action | None:
    return ACTIONS.get(name)
