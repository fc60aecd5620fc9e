"""kill -9 at random moments under concurrent writers, over several rounds: every
acknowledged write survives and the change stream has no holes or repeats (the harness is
crash_harness.py; bench/crash.sh runs it for many more rounds)."""

import pytest

from conftest import soak, tidekv_only
from crash_harness import run_rounds

pytestmark = [tidekv_only, soak]


@pytest.mark.parametrize("mode", ["everysec", "always"])
def test_kill9_loses_no_acknowledged_write(make_server, mode):
    s = make_server(["--appendfsync", mode])
    acked = run_rounds(s, rounds=6, seed=1, log=lambda *_: None)
    assert acked > 20  # the writers did get work done between the kills
