"""SEQUENCE TIME <unix-ms>: the last sequence committed before that time (CDC.md)."""

import time

import pytest
import redis

from conftest import tidekv_only
from test_cdc_helpers import now_ms, poll, poll_all, seq

pytestmark = tidekv_only


def seq_at(r, t):
    return int(r.execute_command("SEQUENCE", "TIME", t))


def gap():
    time.sleep(0.03)


@pytest.fixture
def timeline(make_server):
    """A fresh server with writes separated by pauses; returns (server, client, marks) where
    marks[i] = (a time between writes, the latest sequence before it)."""
    s = make_server()
    r = s.client()
    marks = []
    marks.append((now_ms(), 0))
    gap()
    r.set("a", "1")                       # 1
    gap()
    marks.append((now_ms(), 1))
    gap()
    p = r.pipeline(transaction=True)      # 2..4
    p.set("b", "1")
    p.set("c", "1")
    p.set("d", "1")
    p.execute()
    gap()
    marks.append((now_ms(), 4))
    gap()
    r.mset({"e": 1, "f": 2})              # 5..6
    gap()
    marks.append((now_ms(), 6))
    gap()
    r.delete("a")                         # 7
    r.set("g", "1", ex=100)               # 8..9: the key and its expiry index entry
    gap()
    marks.append((now_ms(), 9))
    yield s, r, marks
    r.close()


def test_sequence_time_between_writes(timeline):
    s, r, marks = timeline
    assert seq(r) == 9
    for t, want in marks:
        assert seq_at(r, t) == want, "SEQUENCE TIME %d" % t


def test_sequence_time_at_batch_timestamps(timeline):
    s, r, marks = timeline
    ups = poll_all(r, 0, "RESP")
    assert [u["sequence"] for u in ups] == [1, 2, 5, 7, 8]
    for u in ups:
        if [x["timestamp"] for x in ups].count(u["timestamp"]) > 1:
            continue  # two batches in one ms: the boundary is ambiguous
        # strictly before the time: a batch committed at exactly t is not included
        assert seq_at(r, u["timestamp"]) == u["sequence"] - 1
        assert seq_at(r, u["timestamp"] + 1) >= u["sequence"] + u["count"] - 1


def test_poll_from_sequence_time_gets_changes_at_or_after_the_time(timeline):
    s, r, marks = timeline
    for t, want in marks[:-1]:
        d = poll(r, seq_at(r, t), "FORMAT", "RESP")
        assert d["updates"], t
        assert d["updates"][0]["timestamp"] >= t
        assert d["first_sequence"] == want + 1


def test_sequence_time_in_the_future_is_latest(timeline):
    s, r, marks = timeline
    assert seq_at(r, now_ms() + 3_600_000) == 9
    assert seq_at(r, 2 ** 62) == 9


def test_sequence_time_before_everything(timeline):
    s, r, marks = timeline
    assert seq_at(r, 0) == 0
    assert seq_at(r, marks[0][0]) == 0


def test_sequence_time_survives_restart(timeline):
    s, r, marks = timeline
    r.close()
    s.restart()
    r2 = s.client()
    try:
        for t, want in marks:
            assert seq_at(r2, t) == want
    finally:
        r2.close()


def test_sequence_time_does_not_write(timeline):
    s, r, marks = timeline
    before = seq(r)
    seq_at(r, marks[2][0])
    assert seq(r) == before


def test_sequence_time_errors(r):
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("SEQUENCE", "TIME", "yesterday")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SEQUENCE", "TIME", "1", "2")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SEQUENCE", "NOW", "1")


def test_sequence_time_on_an_empty_server(make_server):
    """Nothing committed yet: nothing was committed before any time."""
    s = make_server()
    r = s.client()
    try:
        assert seq_at(r, now_ms()) == 0
        assert seq_at(r, 0) == 0
    finally:
        r.close()
