"""Defects found by review10 (replbin: a reply's batches staged in one APPLYBATCH pass on a
replica took batches that staging them one by one refuses). Both fixed; the tests follow a
scripted master (tidekv only)."""

import struct

import pytest

from conftest import tidekv_only
from test_cdc_binary import replica_of_fake
from test_cdc_helpers import poll, seq
from test_replication import poll_reply


def with_header(batch, sequence, count):
    """The batch with another header: its records as they are."""
    return struct.pack("<QI", sequence, count) + batch[12:]


@tidekv_only
@pytest.mark.soak  # long: runs under make soak
def test_a_batch_whose_count_is_not_its_records_is_refused_in_a_group(make_server):
    """Each batch of a reply must be whole on its own, as APPLYBATCH checks it: one that claims
    more sequences than its records hold, followed by one that claims fewer, add up to a merged
    batch that is well formed. Staged one by one, the first is refused; staged together (one
    APPLYBATCH pass over the merged batch), the replica took both, and wrote the second batch's
    records at sequences the master never gave them."""
    source = make_server()
    s = source.client()
    s.set("k0", "v0")  # one write: sequence 1
    s.set("t", "v", px=100000)  # metadata and its expiry index entry: sequences 2 and 3
    good = poll(s, 0, "MAX", 10, "FORMAT", "BINARY")["updates"]
    assert [struct.unpack_from("<QI", b) for b in good] == [(1, 1), (2, 2)]
    # After the replica's own write (sequence 1), the first claims 2 sequences (it holds 1 write),
    # the second 1 (it holds 2).
    reply = poll_reply(with_header(good[0], 2, 2), with_header(good[1], 4, 1))
    fake, replica, c = replica_of_fake(make_server, reply)
    try:
        assert seq(c) == 1
        assert c.dbsize() == 1
        assert "the master sent a malformed batch" in replica.log()
    finally:
        fake.close()


LIB_A = "#!lua name=a\nredis.register_function('f', function() return 'a' end)"
LIB_B = "#!lua name=b\nredis.register_function('f', function() return 'b' end)"


@tidekv_only
@pytest.mark.soak  # long: runs under make soak
def test_a_batch_leaving_a_function_registered_twice_is_refused_in_a_group(make_server):
    """Function names must be unique after each commit, as a replay commit by commit finds them.
    A batch loading library b, whose function f library a already has, is refused, even when the
    next batch deletes a: APPLYBATCH checked the names at the end of each batch only, so staged
    together (one pass over the merged batch) the replica took all three, its history holding a
    commit after which f is registered twice."""
    source = make_server()
    s = source.client()
    s.execute_command("FUNCTION", "LOAD", LIB_A)
    s.execute_command("FUNCTION", "DELETE", "a")
    s.execute_command("FUNCTION", "LOAD", LIB_B)
    load_a, delete_a, load_b = poll(s, 0, "MAX", 10, "FORMAT", "BINARY")["updates"]
    assert [struct.unpack_from("<QI", b) for b in (load_a, delete_a, load_b)] == [(1, 1), (2, 1), (3, 1)]
    reply = poll_reply(with_header(load_a, 2, 1), with_header(load_b, 3, 1), with_header(delete_a, 4, 1))
    fake, replica, c = replica_of_fake(make_server, reply)
    try:
        assert seq(c) == 2  # after the replica's own write, the batch before the refused one
        assert c.fcall("f", 0) == b"a"
        assert "Function f already exists" in replica.log()
    finally:
        fake.close()
