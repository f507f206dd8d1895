"""The shared sharded-listing helpers (aws/sharded.py) beyond what the jobs' and the delivery
log's listings test through their stores."""

from __future__ import annotations

import threading

import pytest

from asyncjobs.aws.sharded import first_read, run_all


def test_a_failed_shard_query_is_raised_only_once_every_other_has_ended():
    # A Query that ran on after the page failed would run into the next request on this process
    # (or be frozen with the Lambda environment half done).
    ended = threading.Event()
    started = threading.Event()

    def fails() -> None:
        started.wait(5)
        raise RuntimeError("throttled")

    def slow() -> None:
        started.set()
        threading.Event().wait(0.2)
        ended.set()

    with pytest.raises(RuntimeError, match="throttled"):
        run_all([fails, slow])
    assert ended.is_set()


def test_a_shards_first_read_is_twice_its_share_and_never_more_than_the_page_or_the_cap():
    assert first_read(20, 16, 128) == 6  # 2 * ceil(20 / 16) + 2
    assert first_read(1, 16, 128) == 1
    assert first_read(100, 16, 50) == 16
    assert first_read(100, 16, 8) == 8
