"""The only module that knows the DynamoDB layout of webhook subscriptions and deliveries (table
`WebhooksTable`, key `pk` + `sk`):

- `TENANT#<tenant>` / `SUB#<sub_id>`: a subscription (URL, events, actions, receiver auth, secrets);
- `SUB#<sub_id>#<shard>` / `DLV#<delivery_id>`: one delivery (the exact body sent, every attempt).

A subscription's delivery log is sharded: one partition key value takes at most 1,000 write
units/s, and delivery ids start with a UUIDv7 (always written at the end of their partition, so
split-for-heat cannot spread them), so one key value per subscription would cap a tenant that sends
every job to one subscription. The shard is a stable hash of the delivery id, so a delivery's read
or update is still one request on its key; the log is listed by reading every shard newest first
and merging them (aws/sharded.py).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from asyncjobs.aws.dynamo import ConditionFailed, Table, from_item, to_item
from asyncjobs.aws.sharded import Merge, Paused, Shard, first_read, shard_query
from asyncjobs.errors import Conflict, NotFound
from asyncjobs.webhooks.models import DELIVERY_RETENTION_S, Delivery, Secret, Subscription

MAX_RECORDED_ATTEMPTS = 30
# Partition key values per subscription's delivery log. Each takes 1,000 write units/s; a delivery
# of up to 1 KB costs 1 write when its first attempt (made before the write) succeeds, and 2 more
# per failed attempt (the retry's claim and its record): a receiver down through all 8 attempts of
# the schedule costs 1 + 2 x 7 = 15 writes a delivery. 16 key values take 16,000 writes/s, so one
# subscription holds 1,000 jobs/s even then (8 would hold 1,000 only while at most 3 attempts of
# each fail: 1 + 2 x 3 = 7). Every page of the log reads each shard once at least (16 Queries,
# run at once; 0.5 read units each at least): more shards cost every listing more. Changing it
# re-keys every delivery.
SHARDS = 16
# Shard Queries one request may make (the first round reads every shard once): a filter matching
# little in a long log would read on through all of it; the page ends early with a cursor instead.
# Two rounds read 16 x (10 + 20) = 480 items at most for a page of 50 (16 x (16 + 32) = 768 for
# 100), about the 5 Queries of 100 items one request read before the log was sharded.
MAX_QUERIES = 2 * SHARDS
# Items one shard Query may read (Limit): a shard whose pages the filter thins out reads twice as
# many each time it is read again, up to this.
MAX_SHARD_READ = 50


def shard_of(delivery_id: str) -> int:
    """The shard of a delivery: CRC-32 (stable across processes and versions, unlike `hash`) of its
    id. Every bit of the id, the job id's 74 random ones included, moves the checksum's low bits,
    so the shards fill evenly whatever the time (tests/unit/test_delivery_keys.py counts them)."""
    return zlib.crc32(delivery_id.encode()) % SHARDS


def _log_pk(sub_id: str, shard: int) -> str:
    return f"SUB#{sub_id}#{shard:02d}"


def delivery_key(sub_id: str, delivery_id: str) -> dict[str, Any]:
    """The key of a delivery's item, in DynamoDB's form (tools and tests that read items directly)."""
    return to_item({"pk": _log_pk(sub_id, shard_of(delivery_id)), "sk": f"DLV#{delivery_id}"})


def delivery_item(d: Delivery) -> dict[str, Any]:
    """A new delivery's item, as create_delivery writes it (plain values)."""
    return {
        "pk": _log_pk(d.sub_id, shard_of(d.delivery_id)),
        "sk": f"DLV#{d.delivery_id}",
        "sub_id": d.sub_id,
        "delivery_id": d.delivery_id,
        "tenant_id": d.tenant_id,
        "event_type": d.event_type,
        "job_id": d.job_id,
        "payload": d.payload,
        "status": d.status,
        "created_at": d.created_at,
        "attempt_count": d.attempt_count,
        "schedule_base": 0,
        "attempts": list(d.attempts),
        "next_attempt_at": d.next_attempt_at,
        "expires_at": int(d.expires_at or d.created_at + DELIVERY_RETENTION_S),
    }


def _sub_from(item: dict[str, Any]) -> Subscription:
    return Subscription(
        tenant_id=item["tenant_id"],
        sub_id=item["sub_id"],
        url=item["url"],
        events=tuple(item["events"]),
        actions=tuple(item.get("actions") or ()),
        auth=item.get("auth") or {"type": "none"},
        secrets=tuple(
            Secret(s["value"], s["created_at"], s.get("expires_at")) for s in item.get("secrets", [])
        ),
        enabled=bool(item.get("enabled", True)),
        disabled_reason=item.get("disabled_reason"),
        description=item.get("description", ""),
        created_at=item.get("created_at", 0.0),
        updated_at=item.get("updated_at", 0.0),
        version=int(item.get("version", 0)),
    )


def _delivery_from(item: dict[str, Any]) -> Delivery:
    return Delivery(
        sub_id=item["sub_id"],
        delivery_id=item["delivery_id"],
        tenant_id=item["tenant_id"],
        event_type=item["event_type"],
        payload=item["payload"],
        status=item["status"],
        created_at=item["created_at"],
        attempt_count=int(item.get("attempt_count", 0)),
        schedule_base=int(item.get("schedule_base", 0)),
        attempts=tuple(item.get("attempts") or ()),
        next_attempt_at=item.get("next_attempt_at"),
        claimed_until=item.get("claimed_until"),
        job_id=item.get("job_id"),
    )


class StaleWrite(Exception):
    """The subscription changed (or was deleted) between its read and this write."""


class WebhookStore(Table):
    # -- subscriptions ---------------------------------------------------------------------
    def put_subscription(self, sub: Subscription, *, new: bool = False) -> Subscription:
        """Writes `sub` whole, only if it exists still unchanged since it was read (its `version`),
        or, with `new`, only if it does not exist (ids are fresh). Raises StaleWrite otherwise: a
        write made from an old read never undoes another (a delete, a rotation)."""
        values = {
            "pk": f"TENANT#{sub.tenant_id}",
            "sk": f"SUB#{sub.sub_id}",
            "tenant_id": sub.tenant_id,
            "sub_id": sub.sub_id,
            "url": sub.url,
            "events": list(sub.events),
            "actions": list(sub.actions),
            "auth": sub.auth,
            "secrets": [
                {"value": s.value, "created_at": s.created_at, "expires_at": s.expires_at}
                for s in sub.secrets
            ],
            "enabled": sub.enabled,
            "disabled_reason": sub.disabled_reason,
            "description": sub.description,
            "created_at": sub.created_at,
            "updated_at": sub.updated_at,
            "version": sub.version + 1,
        }
        kw: dict[str, Any]
        if new:
            kw = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif sub.version:
            kw = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": to_item({":v": sub.version}),
            }
        else:  # written before versions existed
            kw = {"ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(version)"}
        try:
            self._call("put_item", Item=to_item(values), **kw)
        except ConditionFailed as exc:
            if new:
                # Subscription ids are new and random: the item can only exist because an earlier
                # try of this very put committed and its response was lost. It is stored.
                return replace(sub, version=sub.version + 1)
            raise StaleWrite(f"subscription {sub.sub_id} changed or was deleted since it was read") from exc
        return replace(sub, version=sub.version + 1)

    def change_subscription(
        self, tenant_id: str, sub_id: str, change: Callable[[Subscription], Subscription], tries: int = 3
    ) -> Subscription:
        """Read, change, conditional write; on a lost race, read again and reapply `change`
        (`tries` times in all), then give up with a Conflict. NotFound once deleted."""
        for _ in range(tries):
            try:
                return self.put_subscription(change(self.get_subscription(tenant_id, sub_id)))
            except StaleWrite:
                continue
        raise Conflict(
            f"Webhook subscription {sub_id} was changed by other requests at the same time; retry."
        )

    def get_subscription(self, tenant_id: str, sub_id: str) -> Subscription:
        item = self._call(
            "get_item",
            Key=to_item({"pk": f"TENANT#{tenant_id}", "sk": f"SUB#{sub_id}"}),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise NotFound(f"No webhook subscription {sub_id} for this tenant.")
        return _sub_from(from_item(item))

    def subscriptions(self, tenant_id: str) -> list[Subscription]:
        items, kw = [], {}
        while True:
            resp = self._call(
                "query",
                KeyConditionExpression="pk = :pk AND begins_with(sk, :sub)",
                ExpressionAttributeValues=to_item({":pk": f"TENANT#{tenant_id}", ":sub": "SUB#"}),
                ConsistentRead=True,
                **kw,
            )
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return [_sub_from(from_item(i)) for i in items]
            kw = {"ExclusiveStartKey": resp["LastEvaluatedKey"]}

    def delete_subscription(self, tenant_id: str, sub_id: str) -> None:
        try:
            self._call(
                "delete_item",
                Key=to_item({"pk": f"TENANT#{tenant_id}", "sk": f"SUB#{sub_id}"}),
                ConditionExpression="attribute_exists(pk)",
            )
        except ConditionFailed as exc:
            raise NotFound(f"No webhook subscription {sub_id} for this tenant.") from exc

    def disable(self, sub: Subscription, reason: str, now: float) -> None:
        """Disables the subscription in place, touching nothing else (a rotation or PATCH made
        since `sub` was read stays); a deleted subscription stays deleted."""
        with contextlib.suppress(ConditionFailed):  # deleted meanwhile: it stays deleted
            self._call(
                "update_item",
                Key=to_item({"pk": f"TENANT#{sub.tenant_id}", "sk": f"SUB#{sub.sub_id}"}),
                UpdateExpression="SET enabled = :f, disabled_reason = :r, updated_at = :now, "
                "version = if_not_exists(version, :zero) + :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item(
                    {":f": False, ":r": reason, ":now": now, ":zero": 0, ":one": 1}
                ),
            )

    # -- deliveries ------------------------------------------------------------------------
    def create_delivery(self, d: Delivery) -> bool:
        """Stores a new delivery as `d` has it: pending and never attempted, or already with its
        first attempt's result (the fan-out attempts before it writes). False if one exists (the
        same event announced again, or fanned out by another invocation at the same time).

        A put whose response was lost fails its own condition on the SDK's retry: the stored item
        is then read back, and when it is exactly what this put wrote, the put is ours (True)."""
        item = to_item(delivery_item(d))
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ConditionFailed:
            stored = self._call("get_item", Key=delivery_key(d.sub_id, d.delivery_id), ConsistentRead=True)
            return from_item(stored.get("Item") or {}) == from_item(item)
        return True

    def get_delivery(self, sub_id: str, delivery_id: str, now: float | None = None) -> Delivery | None:
        """The delivery, or None; with `now`, None too once it has expired (DynamoDB deletes
        expired items only eventually)."""
        item = self._call(
            "get_item",
            Key=delivery_key(sub_id, delivery_id),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        if now is not None and values.get("expires_at", now + 1) <= now:
            return None
        return _delivery_from(values)

    def deliveries(
        self,
        sub_id: str,
        *,
        now: float,
        statuses: tuple[str, ...] = (),
        since: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        """Unexpired deliveries, newest first (delivery ids start with a time-ordered job id), merged
        from the log's shards; `cursor` is the delivery id to continue after, below which every
        shard continues. Makes MAX_QUERIES Queries at most: a filter matching little (or nothing)
        in a long log answers a short page (possibly empty) with a cursor, never a read of the
        whole log."""
        names = {"#e": "expires_at"}
        values: dict[str, Any] = {":now": int(now)}
        filters = ["#e > :now"]
        if statuses:
            names["#s"] = "status"
            keys = []
            for n, status in enumerate(statuses):
                values[f":s{n}"] = status
                keys.append(f":s{n}")
            filters.append(f"#s IN ({', '.join(keys)})")
        if since is not None:
            values[":since"] = since
            filters.append("created_at >= :since")
        before = f"DLV#{cursor}" if cursor else None
        read = first_read(limit, SHARDS, MAX_SHARD_READ)
        queries = [
            shard_query(
                "pk",
                _log_pk(sub_id, shard),
                "sk",
                before,
                filters=filters,
                names=names,
                values=to_item(values),
            )
            for shard in range(SHARDS)
        ]
        # the bounds read when the page starts, not when the module loads (tests lower them)
        merge = Merge(
            [Shard(q, "sk", before, read, MAX_SHARD_READ) for q in queries], self._call, MAX_QUERIES
        )
        out: list[Delivery] = []
        try:
            while len(out) < limit:
                item = merge.pop()
                if item is None:
                    return out, None
                out.append(_delivery_from(from_item(item)))
        except Paused as paused:
            return out, paused.after.removeprefix("DLV#")
        return out, out[-1].delivery_id if merge.more() else None

    def claim(self, d: Delivery, now: float, until: float) -> Delivery:
        """Takes the delivery's next attempt for this worker (one attempt at a time)."""
        return self._update(
            d,
            "SET claimed_until = :until",
            "#s = :pending AND attempt_count = :n"
            " AND (attribute_not_exists(claimed_until) OR claimed_until < :now)",
            {":until": until, ":pending": "pending", ":n": d.attempt_count, ":now": now},
        )

    def record_attempt(
        self, d: Delivery, attempt: dict[str, Any], status: str, next_attempt_at: float | None
    ) -> Delivery:
        expr = (
            "SET attempts = list_append(attempts, :a), attempt_count = attempt_count + :one, #s = :status, "
            "next_attempt_at = :next REMOVE claimed_until"
        )
        values = {
            ":a": [attempt],
            ":one": 1,
            ":status": status,
            ":next": next_attempt_at,
            ":n": d.attempt_count,
        }
        if next_attempt_at is None:
            expr = expr.replace(", next_attempt_at = :next", "")
            values.pop(":next")
        if len(d.attempts) >= MAX_RECORDED_ATTEMPTS:  # keep the item small: the first attempts go
            expr = expr.replace("list_append(attempts, :a)", ":a")
            values[":a"] = [*list(d.attempts)[-MAX_RECORDED_ATTEMPTS + 1 :], attempt]
        return self._update(d, expr, "attempt_count = :n", values)

    def release(self, d: Delivery) -> None:
        self._update(d, "REMOVE claimed_until", "attempt_count = :n", {":n": d.attempt_count})

    def finish_without_attempt(self, d: Delivery, status: str) -> Delivery:
        return self._update(
            d,
            "SET #s = :status REMOVE claimed_until",
            "#s = :pending",
            {":status": status, ":pending": "pending"},
        )

    def restart(self, d: Delivery, now: float) -> Delivery:
        """Puts a delivery back on the retry schedule from its start (redeliver). Raises
        ConditionFailed while an attempt of it is being made (a live claim is never dropped)."""
        return self._update(
            d,
            "SET #s = :pending, schedule_base = attempt_count, next_attempt_at = :now REMOVE claimed_until",
            "attribute_exists(pk) AND (#s <> :pending OR attribute_not_exists(claimed_until)"
            " OR claimed_until < :now)",
            {":pending": "pending", ":now": now},
        )

    def _update(self, d: Delivery, expr: str, cond: str, values: dict[str, Any]) -> Delivery:
        kw: dict[str, Any] = {"ExpressionAttributeNames": {"#s": "status"}} if "#s" in expr + cond else {}
        resp = self._call(
            "update_item",
            Key=delivery_key(d.sub_id, d.delivery_id),
            UpdateExpression=expr,
            ConditionExpression=cond,
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_NEW",
            **kw,
        )
        return _delivery_from(from_item(resp["Attributes"]))
