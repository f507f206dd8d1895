"""Administer tenants and API keys of a local or deployed stack (run from the repository root, with
the layer on the import path: `PYTHONPATH=.:layers/jobs`, as `make admin` does).

    python -m tools.admin --local create-tenant acme
    python -m tools.admin --stack asyncjobs create-key acme --name ci
    python -m tools.admin --table <TenantsTable> list-keys acme
    python -m tools.admin --local revoke-key acme <key_id>

`--local` reads the state file `make local` writes (.devstack/state.json): moto's endpoint and the
stack's outputs. `--stack` reads the TenantsTableName output of a deployed CloudFormation stack with
your AWS credentials. A new key is printed once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from asyncjobs.errors import DomainError
from asyncjobs.tenancy.tenants import Tenants

LOCAL_STATE = Path(".devstack/state.json")


def _target(args: argparse.Namespace) -> tuple[Any, str]:
    """(DynamoDB client, tenants table name)."""
    if args.local or os.environ.get("DEVSTACK_STATE"):
        path = Path(os.environ.get("DEVSTACK_STATE") or args.state)
        if not path.exists():
            sys.exit(f"error: {path} not found: start the local stack first (make local)")
        state = json.loads(path.read_text())
        client = boto3.client(
            "dynamodb",
            endpoint_url=state["aws_endpoint_url"],
            region_name=state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return client, state["outputs"]["TenantsTableName"]
    if args.stack:
        cfn = boto3.client("cloudformation", region_name=args.region)
        outputs = cfn.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
        table = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "TenantsTableName"), None)
        if table is None:
            sys.exit(f"error: stack {args.stack} has no TenantsTableName output")
        return boto3.client("dynamodb", region_name=args.region), table
    if args.table:
        return boto3.client("dynamodb", region_name=args.region), args.table
    sys.exit("error: say which stack: --local, --stack NAME or --table NAME")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the running local stack")
    where.add_argument("--stack", help="a deployed stack's name")
    where.add_argument("--table", help="the tenants table's name")
    p.add_argument("--state", default=str(LOCAL_STATE), help="local stack state file")
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    p.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create-tenant")
    c.add_argument("tenant_id")
    c.add_argument("--name", default="")
    k = sub.add_parser("create-key", help="create an API key (printed once)")
    k.add_argument("tenant_id")
    k.add_argument("--name", default="")
    ls = sub.add_parser("list-keys")
    ls.add_argument("tenant_id")
    r = sub.add_parser("revoke-key")
    r.add_argument("tenant_id")
    r.add_argument("key_id")
    d = sub.add_parser("demo", help="ensure a tenant exists and create a key for it (local stack start-up)")
    d.add_argument("tenant_id", nargs="?", default="demo")
    args = p.parse_args(argv)

    client, table = _target(args)
    tenants = Tenants(client, table)
    out: dict[str, Any]
    try:
        if args.command == "create-tenant":
            tenants.create_tenant(args.tenant_id, args.name)
            out = {"tenant_id": args.tenant_id}
        elif args.command == "create-key":
            key_id, key = tenants.create_key(args.tenant_id, args.name)
            out = {"tenant_id": args.tenant_id, "key_id": key_id, "api_key": key}
        elif args.command == "list-keys":
            out = {
                "tenant_id": args.tenant_id,
                "keys": [k.to_public() for k in tenants.list_keys(args.tenant_id)],
            }
        elif args.command == "revoke-key":
            tenants.revoke_key(args.tenant_id, args.key_id)
            out = {"tenant_id": args.tenant_id, "key_id": args.key_id, "revoked": True}
        else:
            if not tenants.tenant_exists(args.tenant_id):
                tenants.create_tenant(args.tenant_id, "Demo tenant")
            key_id, key = tenants.create_key(args.tenant_id, "demo")
            out = {
                "tenant_id": args.tenant_id,
                "key_id": key_id,
                "api_key": key,
                "headers": {"Authorization": f"Bearer {key}"},
                "lines": [
                    f"Tenant     {args.tenant_id}",
                    f"API key    {key}   (header: Authorization: Bearer <key>)",
                ],
            }
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            if key not in ("lines", "headers"):
                print(f"{key}: {json.dumps(value) if isinstance(value, list | dict) else value}")
        if "api_key" in out:
            print("Keep the key now: it is not stored and cannot be shown again.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
