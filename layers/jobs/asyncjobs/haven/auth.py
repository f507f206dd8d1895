"""The `apikey` parameter. An API Gateway authorizer sees headers and the query string, never a
form body, and Haven's callers post the key as a form field: so the Haven function checks it
itself, against the same key store (`Tenants.verify`, one GetItem) as the bearer authorizer.

Caching keeps the bearer keys' promise: a verified key is reused for at most `TTL_S` (the
authorizer's `ReauthorizeEvery`, 300 s), so a revoked key stops working within 5 minutes on both
APIs. Unknown or revoked keys are not cached (a key created a moment ago works at once), and
neither is a DynamoDB failure, which answers 503. Entries are keyed by the key's SHA-256, as the
store is: the function keeps no key in memory longer than a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asyncjobs.haven.errors import HavenError
from asyncjobs.tenancy.tenants import Principal, Tenants, key_hash

TTL_S = 300.0  # = ReauthorizeEvery of the HTTP API's authorizer in template.yaml
MAX_ENTRIES = 1000  # bounds the function's memory whatever the number of callers


@dataclass
class ApiKeys:
    tenants: Callable[[], Tenants]
    clock: Callable[[], float] = time.monotonic
    _verified: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def principal(self, apikey: str | None) -> Principal:
        """The caller's tenant, or HavenError 2000/2002 (401); InfrastructureError passes through
        (the caller answers 503 and nothing is cached)."""
        if not apikey:
            raise HavenError(2000, "Send your API key as the `apikey` parameter.")
        digest, now = key_hash(apikey), self.clock()
        cached = self._verified.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self.tenants().verify(apikey)
        if found is None:
            self._verified.pop(digest, None)
            raise HavenError(2002, "The API key is unknown or revoked.")
        if len(self._verified) >= MAX_ENTRIES:
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= MAX_ENTRIES:
                self._verified.clear()
        self._verified[digest] = (found, now + TTL_S)
        return found
