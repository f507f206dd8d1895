"""Pure logic: ids, cursors, action declarations, error messages, proposal figures, routing."""

from __future__ import annotations

import pytest

from asyncjobs.actions.base import Action, ActionInput
from asyncjobs.actions.proposal_pdf import ProposalInput, financials
from asyncjobs.errors import InvalidRequest
from asyncjobs.http.errors import _field_errors
from asyncjobs.jobs.events import MAX_INLINE_RESULT_BYTES, event_detail
from asyncjobs.jobs.ids import is_job_id, new_job_id
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.store import decode_cursor, encode_cursor
from devstack.lambda_runtime import failed_message_ids


def test_job_ids_are_uuid7_and_sort_by_creation_time():
    ids = [new_job_id(now_ms=1_700_000_000_000 + i) for i in range(50)]
    assert all(is_job_id(i) for i in ids)
    assert sorted(ids) == ids
    assert len({new_job_id(now_ms=1) for _ in range(1000)}) == 1000


def test_cursor_round_trips_and_rejects_tampering():
    job_id = new_job_id()
    assert decode_cursor(encode_cursor(job_id)) == job_id
    for bad in ("", "!!!", "eyJqIjogMX0", encode_cursor("../../etc")):
        with pytest.raises(InvalidRequest):
            decode_cursor(bad)


def test_action_path_must_end_with_its_name():
    with pytest.raises(ValueError):
        Action("b", "/designs/{design_id}/a", ActionInput, lambda i, c: None, "x")
    with pytest.raises(ValueError):
        Action("a", "/tenants/{tenant_id}/a", ActionInput, lambda i, c: None, "x")
    ok = Action("a", "/designs/{design_id}/a", ActionInput, lambda i, c: None, "x")
    assert ok.path_params == ["design_id"]
    assert ok.run_path == "/v2/tenants/{tenant_id}/designs/{design_id}/a/run"


def test_field_errors_are_named_and_readable():
    details = _field_errors(
        [
            {
                "loc": ("body", "customer", "name"),
                "msg": "String should have at least 1 character",
                "type": "string_too_short",
            },
            {"loc": ("body", "module_model"), "msg": "Field required", "type": "missing"},
            {"loc": ("query", "job_id"), "msg": "Field required", "type": "missing"},
        ]
    )
    assert [(d["location"], d["field"], d["message"]) for d in details] == [
        ("body", "customer.name", "String should have at least 1 character"),
        ("body", "module_model", "is required"),
        ("query", "job_id", "is required"),
    ]


def test_proposal_financials():
    p = ProposalInput(
        customer={"name": "A"},
        system_size_kw=10,
        module_count=25,
        module_model="M",
        annual_production_kwh=12000,
        price_per_watt=3,
        incentives=5000,
        electricity_rate_per_kwh=0.25,
    )
    f = financials(p)
    assert f["gross_price"] == 30000 and f["net_price"] == 25000
    assert f["year_one_savings"] == 3000 and f["simple_payback_years"] == 8.3
    assert f["specific_yield_kwh_per_kwp"] == 1200
    assert 12000 * 25 * 0.9 < f["lifetime_production_kwh"] < 12000 * 25


def _job(**kw):
    base = dict(
        tenant_id="t",
        job_id=new_job_id(),
        action="a",
        status=JobStatus.SUCCEEDED,
        created_at=1.0,
        expires_at=2,
    )
    return Job(**{**base, **kw})


def test_event_detail_inlines_small_results_and_omits_large_ones():
    assert event_detail(_job(result_json='{"x":1}'))["result"] == {"x": 1}
    big = _job(result_json='"' + "x" * MAX_INLINE_RESULT_BYTES + '"')
    detail = event_detail(big)
    assert "result" not in detail and detail["result_omitted"] is True


def test_terminal_states():
    assert {s for s in JobStatus if s.terminal} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }


def test_failed_message_ids_follow_lambdas_rules():
    event = {"Records": [{"messageId": "a"}, {"messageId": "b"}]}
    assert failed_message_ids({"batchItemFailures": []}, event) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, event) == {"b"}
    assert failed_message_ids(None, event) == set()
    # a malformed response fails the whole batch
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, event) == {"a", "b"}
    assert failed_message_ids("oops", event) == {"a", "b"}


def test_every_declared_action_resolves_to_its_input_model_and_implementation():
    # Given the registry's declarations (module references, imported on first use)
    from asyncjobs.actions.base import ActionInput
    from asyncjobs.actions.registry import ACTIONS

    for action in ACTIONS.values():
        # When its input model and implementation are asked for, then both exist and fit
        assert issubclass(action.input_model, ActionInput), action.name
        assert callable(action.run), action.name
        if action.profile == "science":
            # the input model in the jobs layer (RunFunction validates it), `run` in the science layer
            assert action.input_model.__module__ == f"asyncjobs.actions.{action.name}", action.name
            assert action.run.__module__.startswith("asyncjobs_science."), action.name
            assert action.run.__annotations__["inputs"] == action.input_model.__name__, action.name
        else:
            assert action.run.__module__ == action.input_model.__module__, action.name
