"""The env-vars file of `sam local invoke --env-vars`, for a deployed stack: each function's
variables, exactly those template.yaml declares for it, resolved to that stack's resources.

    .venv/bin/python -m tools.sam_env --stack-name asyncjobs > .aws-sam/env.json
    .venv-sam/bin/sam local invoke RunFunction -e events/run.json --env-vars .aws-sam/env.json

`sam local invoke` passes a function only the variables its template declares (and sets its own
AWS_* ones), taking a value from this file where it names one: a variable the template does not
declare is dropped. So the file names exactly the declared ones, per function logical id, and the
function then talks to the stack's real tables, queues, bus and bucket with your credentials.
`AWS_ENDPOINT_URL` is not declared, so `sam local invoke` cannot be pointed at `make local`'s moto.

`--example` prints events/env.json: the same for a stack named `asyncjobs` with made-up physical
ids (tests/integration/test_env_vars_file.py keeps it in step with the template).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
# What CloudFormation's physical ids look like for a stack named `asyncjobs` (--example).
_EXAMPLE_SUFFIX = "1A2B3C4D5E6F7"


def declared(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """function logical id -> {variable: its value in the template}, Globals merged in."""
    shared = (
        ((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
    )
    return {
        lid: {**shared, **(res["Properties"].get("Environment") or {}).get("Variables", {})}
        for lid, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def resolve(
    template: dict[str, Any], physical: dict[str, str], parameters: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Each function's variables with a `Ref` replaced by the stack's value: a parameter's value
    (its default when the stack was not given one), or a resource's physical id, which is what
    `Ref` returns for the tables (name), queues (URL), the bus (name) and the bucket (name)."""
    defaults = {name: str(p.get("Default", "")) for name, p in (template.get("Parameters") or {}).items()}
    values = {**defaults, **parameters, **physical}

    def value(v: Any) -> str:
        if isinstance(v, dict):
            if set(v) != {"Ref"}:
                raise ValueError(f"only literals and Ref are resolved here, not {v}")
            return values[v["Ref"]]
        return str(v)

    return {fn: {k: value(v) for k, v in env.items()} for fn, env in declared(template).items()}


def example(template: dict[str, Any], stack: str = "asyncjobs", region: str = "us-east-1") -> dict[str, Any]:
    """What `resolve` gives for a stack named `stack`, with made-up physical ids."""
    physical = {}
    for lid, res in template["Resources"].items():
        name = f"{stack}-{lid}-{_EXAMPLE_SUFFIX}"
        if res["Type"] == "AWS::SQS::Queue":
            physical[lid] = f"https://sqs.{region}.amazonaws.com/123456789012/{name}"
        elif res["Type"] == "AWS::Events::EventBus":
            physical[lid] = f"{stack}-jobs"
        elif res["Type"] == "AWS::S3::Bucket":
            physical[lid] = name.lower()
        else:
            physical[lid] = name
    return resolve(template, physical, {})


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", default="asyncjobs")
    parser.add_argument("--region", default=None)
    parser.add_argument("--example", action="store_true", help="print events/env.json (made-up ids)")
    args = parser.parse_args(argv)
    template = load_template()
    if args.example:
        out = example(template)
    else:
        import boto3

        cfn = boto3.client("cloudformation", region_name=args.region)
        stack = cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=args.stack_name)
            for r in page["StackResourceSummaries"]
        }
        out = resolve(template, physical, parameters)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
