/* Unit tests for the hash type (src/types/hash.h): writes, reads, increments and deletes
 * through txns on a database in a temporary directory, with the statuses for a missing key,
 * a key of another type and a corrupt metadata record. */
#include "store_fixture.h"
#include "type_fixture.h"
#include "types/hash.h"

/* Asserts the field's value (NULL: missing). */
static void assert_field(txn *t, const char *key, const char *field, const char *want) {
    buf v;
    buf_init(&v);
    type_status st = hash_get(t, 0, key, strlen(key), field, strlen(field), &v);
    if (!want) {
        assert_int_equal(st, ST_MISSING);
    } else {
        assert_int_equal(st, ST_OK);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data, want, v.len);
    }
    buf_free(&v);
}

static void assert_len(txn *t, const char *key, long long want) {
    long long len = -1;
    type_status st = hash_len(t, 0, key, strlen(key), &len);
    assert_int_equal(st, want ? ST_OK : ST_MISSING);
    assert_int_equal(len, want);
}

/* Stores the npairs fields and values of items in the hash at key, and commits. */
static void put_fields(const char *key, const slice *items, int npairs) {
    txn t;
    txn_init(&t);
    long long added;
    assert_int_equal(hash_set(&t, 0, key, strlen(key), items, npairs, &added), ST_OK);
    commit(&t);
    txn_free(&t);
}

static void test_set_get(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice items[] = {S("a"), S("1"), S("b"), S("2"), S("a"), S("3")};
    long long added = -1;
    assert_int_equal(hash_set(&t, 0, KEY("h"), items, 3, &added), ST_OK);
    assert_int_equal(added, 2); /* "a" twice counts once; the last value stands */
    commit(&t);
    assert_field(&t, "h", "a", "3");
    assert_field(&t, "h", "b", "2");
    assert_field(&t, "h", "c", NULL);
    assert_field(&t, "nokey", "a", NULL);
    assert_len(&t, "h", 2);
    assert_len(&t, "nokey", 0);
    assert_int_equal(hash_set(&t, 0, KEY("h"), items, 1, &added), ST_OK);
    assert_int_equal(added, 0);
    int set = -1;
    slice c = S("c"), a = S("a"), x = S("x");
    assert_int_equal(hash_setnx(&t, 0, KEY("h"), &a, &x, &set), ST_OK);
    assert_int_equal(set, 0);
    assert_int_equal(hash_setnx(&t, 0, KEY("h"), &c, &x, &set), ST_OK);
    assert_int_equal(set, 1);
    assert_int_equal(hash_setnx(&t, 0, KEY("new"), &c, &x, &set), ST_OK);
    assert_int_equal(set, 1);
    commit(&t);
    assert_field(&t, "h", "a", "1");
    assert_field(&t, "h", "c", "x");
    assert_len(&t, "h", 3);
    assert_len(&t, "new", 1);
    txn_free(&t);
}

/* Collects visits as "field=value;" (a missing value as "field;"). */
static int collect(void *arg, const char *m, size_t ml, const char *v, size_t vl) {
    buf *out = arg;
    buf_append(out, m, ml);
    if (v) {
        buf_append(out, "=", 1);
        buf_append(out, v, vl);
    }
    buf_append(out, ";", 1);
    return 0;
}

static void test_mget_all_del(void **state) {
    (void)state;
    slice items[] = {S("f1"), S("v1"), S("f2"), S("v2"), S("f3"), S("")};
    put_fields("m", items, 3);
    txn t;
    txn_init(&t);
    buf out;
    buf_init(&out);
    slice fields[] = {S("f2"), S("zz"), S("f3"), S("f2")};
    assert_int_equal(hash_mget(&t, 0, KEY("m"), fields, 4, collect, &out), ST_OK);
    assert_text(&out, "f2=v2;zz;f3=;f2=v2;");
    assert_int_equal(hash_mget(&t, 0, KEY("nokey"), fields, 2, collect, &out), ST_OK);
    assert_text(&out, "f2;zz;");
    long long size;
    assert_int_equal(hash_get_all(&t, 0, KEY("m"), &size, collect, &out), ST_OK);
    assert_int_equal(size, 3);
    assert_text(&out, "f1=v1;f2=v2;f3=;");
    /* HDEL visits what it really removed: f2 once, not zz. */
    long long removed;
    assert_int_equal(hash_del(&t, 0, KEY("m"), fields, 4, collect, &out, &removed), ST_OK);
    assert_int_equal(removed, 2);
    assert_text(&out, "f2;f3;");
    assert_int_equal(hash_del(&t, 0, KEY("nokey"), fields, 1, collect, &out, &removed), ST_MISSING);
    assert_int_equal(removed, 0);
    commit(&t);
    assert_len(&t, "m", 1);
    slice last[] = {S("f1")};
    assert_int_equal(hash_del(&t, 0, KEY("m"), last, 1, collect, &out, &removed), ST_OK);
    assert_text(&out, "f1;");
    commit(&t);
    assert_len(&t, "m", 0); /* the last field gone, the key is gone */
    assert_int_equal(hash_get_all(&t, 0, KEY("m"), &size, collect, &out), ST_MISSING);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    txn_free(&t);
}

static void test_incr(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice f = S("n"), s = S("s"), big = S("big");
    slice items[] = {S("s"), S("abc"), S("big"), S("9223372036854775800")};
    long long n;
    assert_int_equal(hash_set(&t, 0, KEY("i"), items, 2, &n), ST_OK);
    assert_int_equal(hash_incrby(&t, 0, KEY("i"), &f, 5, &n), ST_OK);
    assert_int_equal(n, 5);
    assert_int_equal(hash_incrby(&t, 0, KEY("i"), &f, -7, &n), ST_OK);
    assert_int_equal(n, -2);
    assert_int_equal(hash_incrby(&t, 0, KEY("i"), &s, 1, &n), ST_NOT_INTEGER);
    assert_int_equal(hash_incrby(&t, 0, KEY("i"), &big, 8, &n), ST_OVERFLOW);
    assert_int_equal(hash_incrby(&t, 0, KEY("fresh"), &f, 3, &n), ST_OK);
    buf out;
    buf_init(&out);
    assert_int_equal(hash_incrbyfloat(&t, 0, KEY("i"), &f, 0.5L, &out), ST_OK);
    assert_text(&out, "-1.5");
    assert_int_equal(hash_incrbyfloat(&t, 0, KEY("i"), &s, 1, &out), ST_NOT_FLOAT);
    slice huge = S("huge");
    slice hv[] = {S("huge"), S("1e4932")};
    assert_int_equal(hash_set(&t, 0, KEY("i"), hv, 1, &n), ST_OK);
    assert_int_equal(hash_incrbyfloat(&t, 0, KEY("i"), &huge, 1e4932L, &out), ST_NAN_OR_INF);
    commit(&t);
    assert_field(&t, "i", "n", "-1.5");
    assert_field(&t, "i", "big", "9223372036854775800");
    assert_field(&t, "fresh", "n", "3");
    assert_len(&t, "i", 4);
    buf_free(&out);
    txn_free(&t);
}

static void test_wrongtype_and_corrupt(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    put_wrong_keys(&t);
    slice items[] = {S("a"), S("1")};
    slice f = S("a");
    long long n;
    buf v;
    buf_init(&v);
    const char *const *keys = wrong_keys;
    const type_status *want = wrong_key_status;
    for (int i = 0; i < 2; i++) {
        size_t kl = strlen(keys[i]);
        assert_int_equal(hash_set(&t, 0, keys[i], kl, items, 1, &n), want[i]);
        assert_int_equal(hash_get(&t, 0, keys[i], kl, "a", 1, &v), want[i]);
        assert_int_equal(hash_len(&t, 0, keys[i], kl, &n), want[i]);
        assert_int_equal(hash_incrby(&t, 0, keys[i], kl, &f, 1, &n), want[i]);
        assert_int_equal(hash_del(&t, 0, keys[i], kl, &f, 1, collect, &v, &n), want[i]);
        assert_int_equal(hash_get_all(&t, 0, keys[i], kl, &n, collect, &v), want[i]);
    }
    assert_false(txn_has_writes(&t)); /* nothing was written */
    buf_free(&v);
    txn_free(&t);
}

/* Operations on the hash "re" for test_read_errors. */
static type_status op_set(txn *t) {
    slice items[] = {S("f1"), S("x"), S("new"), S("y")};
    long long n;
    return hash_set(t, 0, KEY("re"), items, 2, &n);
}

static type_status op_mget(txn *t) {
    slice fields[] = {S("f1"), S("zz"), S("f2")};
    return hash_mget(t, 0, KEY("re"), fields, 3, visit_nothing, NULL);
}

static type_status op_del(txn *t) {
    slice fields[] = {S("zz"), S("f1"), S("f2")};
    long long n;
    return hash_del(t, 0, KEY("re"), fields, 3, visit_nothing, NULL, &n);
}

static type_status op_get_all(txn *t) {
    long long n;
    return hash_get_all(t, 0, KEY("re"), &n, visit_nothing, NULL);
}

static type_status op_incrby(txn *t) {
    slice f = S("n");
    long long n;
    return hash_incrby(t, 0, KEY("re"), &f, 1, &n);
}

static void test_read_errors(void **state) {
    (void)state;
    slice items[] = {S("f1"), S("1"), S("f2"), S("2"), S("n"), S("5")};
    put_fields("re", items, 3);
    /* Each counts the metadata, then one read a field (the walk: a step a field, and the end). */
    assert_int_equal(assert_read_errors_fail(op_set), 3);
    assert_int_equal(assert_read_errors_fail(op_mget), 4);
    assert_int_equal(assert_read_errors_fail(op_del), 4);
    assert_true(assert_read_errors_fail(op_get_all) >= 4);
    assert_int_equal(assert_read_errors_fail(op_incrby), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_mget_all_del),
        cmocka_unit_test(test_incr),
        cmocka_unit_test(test_wrongtype_and_corrupt),
        cmocka_unit_test(test_read_errors),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
