"""The science package loads on its own: no AWS SDK, and pvlib only where a computation needs it."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_modules_import_alone_without_the_aws_sdk():
    # Given a fresh interpreter with only the two layers on its path, when every module is imported,
    # then neither boto3 nor pvlib has been loaded (pvlib is imported inside the computations)
    code = (
        "import sys\n"
        "import asyncjobs_science.fire_pathways, asyncjobs_science.autodesigner\n"
        "import asyncjobs_science.irradiance, asyncjobs_science.performance\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'pvlib') if m in sys.modules))\n"
    )
    env = {"PYTHONPATH": f"{ROOT / 'layers/jobs'}:{ROOT / 'layers/science'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_input_models_have_json_schemas_for_the_openapi_document():
    from asyncjobs_science.autodesigner import AutoDesignInput
    from asyncjobs_science.fire_pathways import FirePathwayInput
    from asyncjobs_science.irradiance import IrradianceInput
    from asyncjobs_science.performance import PerformanceInput

    for model in (FirePathwayInput, AutoDesignInput, IrradianceInput, PerformanceInput):
        schema = model.model_json_schema()
        assert schema["additionalProperties"] is False, model.__name__
