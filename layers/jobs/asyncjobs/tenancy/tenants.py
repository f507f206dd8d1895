"""Tenants and their API keys.

A key is `ajk_<key_id>_<secret>`: `key_id` is public (to list and revoke it), the secret is 32
random bytes. Only the SHA-256 of the whole key is stored: keys are random, not chosen by people,
so a fast hash is safe (nothing to brute-force), and the authorizer needs one read to verify.

Items (one table, key `pk` + `sk`):
- `TENANT#<tenant_id>` / `TENANT`: the tenant;
- `TENANT#<tenant_id>` / `KEY#<key_id>`: a key as its tenant lists it (name, created, revoked);
- `KEYHASH#<sha256>` / `KEY`: the same key as the authorizer looks it up.
A key's two items are written and revoked together, in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from asyncjobs.aws.clients import ClientError
from asyncjobs.errors import Conflict, InvalidRequest, NotFound

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
TENANT_ID = re.compile(TENANT_ID_PATTERN)
_KEY = re.compile(r"^ajk_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """Returns (key_id, key)."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:10]
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return key_id, f"ajk_{key_id}_{secret}"


def looks_like_key(value: str) -> bool:
    return bool(_KEY.match(value))


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    created_at: float
    revoked_at: float | None

    def to_public(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.revoked_at is None,
        }


class Tenants:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def create_tenant(self, tenant_id: str, name: str = "") -> None:
        if not TENANT_ID.match(tenant_id):
            raise InvalidRequest(
                "tenant_id must be 1-64 letters, digits, '-' or '_', starting with a letter or digit"
            )
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"TENANT#{tenant_id}"},
                    "sk": {"S": "TENANT"},
                    "tenant_id": {"S": tenant_id},
                    "name": {"S": name or tenant_id},
                    "created_at": {"N": str(round(time.time(), 3))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"tenant {tenant_id} already exists") from exc
            raise

    def tenant_exists(self, tenant_id: str) -> bool:
        resp = self._ddb.get_item(
            TableName=self._table, Key=_k(f"TENANT#{tenant_id}", "TENANT"), ConsistentRead=True
        )
        return "Item" in resp

    def create_key(self, tenant_id: str, name: str = "") -> tuple[str, str]:
        """Returns (key_id, key). The key is shown this once; only its hash is kept."""
        if not self.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}; create it first")
        key_id, key = new_key()
        now = {"N": str(round(time.time(), 3))}
        digest = key_hash(key)
        self._ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": {
                            **_k(f"TENANT#{tenant_id}", f"KEY#{key_id}"),
                            "key_id": {"S": key_id},
                            "name": {"S": name or key_id},
                            "created_at": now,
                            "key_hash": {"S": digest},
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": {
                            **_k(f"KEYHASH#{digest}", "KEY"),
                            "tenant_id": {"S": tenant_id},
                            "key_id": {"S": key_id},
                            "created_at": now,
                        },
                    }
                },
            ]
        )
        return key_id, key

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        resp = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :key)",
            ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":key": {"S": "KEY#"}},
        )
        return [
            KeyInfo(
                i["key_id"]["S"],
                i["name"]["S"],
                float(i["created_at"]["N"]),
                float(i["revoked_at"]["N"]) if "revoked_at" in i else None,
            )
            for i in resp.get("Items", [])
        ]

    def revoke_key(self, tenant_id: str, key_id: str) -> None:
        item = self._ddb.get_item(
            TableName=self._table, Key=_k(f"TENANT#{tenant_id}", f"KEY#{key_id}"), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"tenant {tenant_id} has no key {key_id}")
        if "revoked_at" in item:
            return
        now = {":now": {"N": str(round(time.time(), 3))}}
        self._ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _k(f"TENANT#{tenant_id}", f"KEY#{key_id}"),
                        "UpdateExpression": "SET revoked_at = :now",
                        "ExpressionAttributeValues": now,
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _k(f"KEYHASH#{item['key_hash']['S']}", "KEY"),
                        "UpdateExpression": "SET revoked_at = :now",
                        "ExpressionAttributeValues": now,
                    }
                },
            ]
        )

    def verify(self, key: str) -> Principal | None:
        """The tenant a presented key belongs to, or None (unknown, malformed or revoked): one read."""
        if not looks_like_key(key):
            return None
        item = self._ddb.get_item(
            TableName=self._table, Key=_k(f"KEYHASH#{key_hash(key)}", "KEY"), ConsistentRead=True
        ).get("Item")
        if item is None or "revoked_at" in item:
            return None
        return Principal(item["tenant_id"]["S"], item["key_id"]["S"])


def _k(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}
