"""Loads template.yaml and applies the SAM transform, so local resources come from the template."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

LOCAL_CODE_BUCKET = "local-code"


class _NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only when a template names one by name;
    offline we know none, and IAM is not emulated locally anyway."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class Translated:
    source: Path
    sam: dict[str, Any]
    cfn: dict[str, Any]
    code_paths: dict[str, Path]
    """S3 key used in the translated template → local directory of that code."""


def load(path: str | Path, parameters: dict[str, str] | None = None, region: str = "us-east-1") -> Translated:
    # The translator reads the region (for ARNs) from the environment, as boto3 would.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    source = Path(path).resolve()
    sam = yaml_parse(source.read_text())
    fragment = copy.deepcopy(sam)  # the transform mutates its input
    code_paths: dict[str, Path] = {}
    for logical_id, res in fragment.get("Resources", {}).items():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            uri = props.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                s3_key = f"{logical_id}.zip"
                code_paths[s3_key] = (source.parent / uri).resolve()
                if not code_paths[s3_key].is_dir():
                    raise ValueError(
                        f"{logical_id}: {key} {uri} is not a directory (relative to {source.parent})"
                    )
                props[key] = f"s3://{LOCAL_CODE_BUCKET}/{s3_key}"
    cfn = transform(fragment, parameters or {}, _NoManagedPolicies())  # type: ignore[arg-type]
    return Translated(source=source, sam=sam, cfn=cfn, code_paths=code_paths)
