"""events/env.json (`sam local invoke --env-vars`) and tools/sam_env.py, which writes such a file
for a deployed stack. SAM passes a function only the variables its template declares: the file
must name each function by its logical id and give exactly those variables."""

from __future__ import annotations

import json

from tests.support import EVENTS, PARAMETERS
from tools import sam_env


def test_env_json_names_every_function_and_exactly_its_template_variables(translated):
    env = json.loads((EVENTS / "env.json").read_text())
    functions = {
        lid: r["Properties"]
        for lid, r in translated.cfn["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert set(env) == set(functions)
    for lid, props in functions.items():
        assert set(env[lid]) == set(props["Environment"]["Variables"]), lid
        assert all(isinstance(v, str) for v in env[lid].values()), lid


def test_env_json_is_current():
    committed = json.loads((EVENTS / "env.json").read_text())
    assert committed == sam_env.example(sam_env.load_template()), (
        "run `.venv/bin/python -m tools.sam_env --example > events/env.json` and commit it"
    )


def test_a_stacks_values_are_what_its_functions_get(harness):
    # Given the physical ids and parameters of a stack (the local one, provisioned from the template)
    physical = {lid: str(res["Ref"]) for lid, res in harness.stack.resources.items()}

    # When the file is resolved for it, then each function gets the environment the stack gives it
    resolved = sam_env.resolve(sam_env.load_template(), physical, PARAMETERS)
    assert resolved == {lid: fn.environment for lid, fn in harness.stack.functions.items()}
