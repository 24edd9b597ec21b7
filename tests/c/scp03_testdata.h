/*
 * Lookups into the recorded SCP03 sessions (tests/vectors/scp03.json) for
 * the SCP03 tests and the benchmark.
 */
#ifndef SCP03_TESTDATA_H
#define SCP03_TESTDATA_H

#include "testkit.h"

/* The entry called name (aborts when missing). */
static inline json_object *scp03_entry(json_object *vectors, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(vectors); i++) {
        json_object *e = json_object_array_get_idx(vectors, i);
        if (strcmp(tk_json_str(e, "name"), name) == 0)
            return e;
    }
    fprintf(stderr, "no entry %s in scp03.json\n", name);
    abort();
}

/* e[object][field] as a string, e.g. ("keys", "enc"), ("session", "s_mac"). */
static inline const char *scp03_field(json_object *e, const char *object, const char *field)
{
    json_object *o = NULL;
    json_object_object_get_ex(e, object, &o);
    return tk_json_str(o, field);
}

/* Exchange i's field: "c", "r", "plain_c", "plain_r". */
static inline const char *scp03_exchange(json_object *e, size_t i, const char *field)
{
    json_object *ex = NULL;
    json_object_object_get_ex(e, "exchanges", &ex);
    return tk_json_str(json_object_array_get_idx(ex, i), field);
}

#endif /* SCP03_TESTDATA_H */
