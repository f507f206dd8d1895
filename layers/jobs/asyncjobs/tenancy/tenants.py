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

from asyncjobs.aws.dynamo import ConditionFailed, Table, from_item, to_item
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


class Tenants(Table):
    def create_tenant(self, tenant_id: str, name: str = "") -> None:
        if not TENANT_ID.match(tenant_id):
            raise InvalidRequest(
                "tenant_id must be 1-64 letters, digits, '-' or '_', starting with a letter or digit"
            )
        item = {
            **_key(f"TENANT#{tenant_id}", "TENANT"),
            "tenant_id": tenant_id,
            "name": name or tenant_id,
            "created_at": time.time(),
        }
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ConditionFailed as exc:
            raise Conflict(f"tenant {tenant_id} already exists") from exc

    def tenant_exists(self, tenant_id: str) -> bool:
        resp = self._call("get_item", Key=to_item(_key(f"TENANT#{tenant_id}", "TENANT")), ConsistentRead=True)
        return "Item" in resp

    def create_key(self, tenant_id: str, name: str = "") -> tuple[str, str]:
        """Returns (key_id, key). The key is shown this once; only its hash is kept."""
        if not self.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}; create it first")
        key_id, key = new_key()
        now = time.time()
        digest = key_hash(key)
        listed = {
            **_key(f"TENANT#{tenant_id}", f"KEY#{key_id}"),
            "key_id": key_id,
            "name": name or key_id,
            "created_at": now,
            "key_hash": digest,
        }
        looked_up = {
            **_key(f"KEYHASH#{digest}", "KEY"),
            "tenant_id": tenant_id,
            "key_id": key_id,
            "created_at": now,
        }
        self._transact_write(
            *(
                {"Put": {"Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}
                for item in (listed, looked_up)
            )
        )
        return key_id, key

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        resp = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :key)",
            ExpressionAttributeValues=to_item({":pk": f"TENANT#{tenant_id}", ":key": "KEY#"}),
        )
        items = [from_item(i) for i in resp.get("Items", [])]
        return [
            KeyInfo(
                i["key_id"],
                i["name"],
                float(i["created_at"]),
                float(i["revoked_at"]) if "revoked_at" in i else None,
            )
            for i in items
        ]

    def revoke_key(self, tenant_id: str, key_id: str) -> None:
        key = _key(f"TENANT#{tenant_id}", f"KEY#{key_id}")
        item = self._call("get_item", Key=to_item(key), ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"tenant {tenant_id} has no key {key_id}")
        if "revoked_at" in item:
            return
        now = to_item({":now": time.time()})
        self._transact_write(
            *(
                {
                    "Update": {
                        "Key": to_item(k),
                        "UpdateExpression": "SET revoked_at = :now",
                        "ExpressionAttributeValues": now,
                    }
                }
                for k in (key, _key(f"KEYHASH#{from_item(item)['key_hash']}", "KEY"))
            )
        )

    def verify(self, key: str) -> Principal | None:
        """The tenant a presented key belongs to, or None (unknown, malformed or revoked): one read."""
        if not looks_like_key(key):
            return None
        raw = self._call(
            "get_item", Key=to_item(_key(f"KEYHASH#{key_hash(key)}", "KEY")), ConsistentRead=True
        ).get("Item")
        if raw is None or "revoked_at" in raw:
            return None
        item = from_item(raw)
        return Principal(item["tenant_id"], item["key_id"])


def _key(pk: str, sk: str) -> dict[str, str]:
    return {"pk": pk, "sk": sk}
