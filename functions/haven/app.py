"""HavenFunction: the Haven OnDemand-compatible API (`ANY /1/{proxy+}`), see `asyncjobs.haven`.

It has no API Gateway authorizer: Haven's callers send their key as an `apikey` form field, which
an authorizer cannot read. The function checks it (`asyncjobs.haven.auth`), with the same key
store and the same 300 s cache bound as the bearer authorizer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.aws import clients as aws
from asyncjobs.haven.api import HavenApi
from asyncjobs.haven.auth import ApiKeys
from asyncjobs.http import idempotency
from asyncjobs.observability import logger
from asyncjobs.services import get_services
from asyncjobs.settings import get_settings
from asyncjobs.tenancy.tenants import Tenants


def _tenants() -> Tenants:
    return Tenants(aws.client("dynamodb"), get_settings().tenants_table)  # the client is cached


# Module level: verified keys stay cached across the warm invocations of this environment.
api = HavenApi(get_services, ApiKeys(_tenants))


# No log_event: the event holds the `apikey` (query string or body), a secret never logged.
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_context(context)
    return api.handle(event, lambda: context.get_remaining_time_in_millis() / 1000)
