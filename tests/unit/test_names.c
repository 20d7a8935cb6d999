/*
 * test_names.c - unit tests of the arena of names (dedup/io/names.c) and
 * of the input list that keeps its documents' names there (dd_inputs_get
 * and the accessors of dedup/io/input.h): names kept past the arena's
 * share of memory, in its scratch file, read back equal to those an arena
 * without a limit keeps in memory, whatever their length (one longer than
 * a block too), into a caller's room that holds a name until it is used
 * again (not a mapping of the file), with nothing left in the folder; and
 * a list collected with
 * a small share gives every document (files found in folders, a file
 * named, the records of a shard named by id and by SHARD:LINE) the same
 * path, id, output name, shard and line as one collected without.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "temp_folder.h"

#include "io/input.h"
#include "io/names.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Name number k: of 1 to 300 bytes, starting with its number (as much of
 * it as fits); number 777 is longer than a block. */
static char *name_of(size_t k, size_t *len)
{
    *len = k == 777 ? DD_NAMES_BLOCK + 5000 : 1 + (k * 37) % 300;
    char *s = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++)
        s[i] = (char)('a' + (k * 7 + i * 3) % 26);
    char number[32];
    size_t digits = (size_t)snprintf(number, sizeof number, "%zu.", k);
    memcpy(s, number, digits < *len ? digits : *len);
    s[*len] = '\0';
    return s;
}

static void names_past_the_share_come_back_from_the_scratch_file(void **state)
{
    (void)state;
    char *dir = make_folder("test_names");
    dd_names all = {0}, small = {.max_in_memory = 64 << 10, .dir = dir};
    enum { N = 20000 };
    uint64_t *in_all = malloc(N * sizeof *in_all), *in_small = malloc(N * sizeof *in_small);
    size_t most = 0;
    for (size_t k = 0; k < N; k++) {
        size_t len;
        char *s = name_of(k, &len);
        in_all[k] = dd_names_add(&all, s, len);
        in_small[k] = dd_names_add(&small, s, len);
        free(s);
        if (dd_names_memory_bytes(&small) > most)
            most = dd_names_memory_bytes(&small);
    }
    dd_names_trim(&all);
    dd_names_trim(&small);
    /* The scratch file is unlinked as soon as it is made. */
    assert_int_equal(entries(dir), 0);
    /* About 3 MB of names: most went to the file; memory held the share,
     * the block being filled and the array of blocks, but for the one
     * name longer than a block, which was in memory until the next. */
    assert_true(dd_names_scratch_bytes(&small) > 2 * DD_NAMES_BLOCK);
    assert_int_equal(dd_names_scratch_bytes(&all), 0);
    assert_true(dd_names_memory_bytes(&small) < (64 << 10) + (16 << 10) + 8192);
    assert_true(most < (64 << 10) + DD_NAMES_BLOCK + 5000 + 16384);
    dd_name_room room = {0}, other = {0};
    for (size_t k = 0; k < N; k++) {
        size_t len;
        char *s = name_of(k, &len);
        assert_string_equal(dd_names_read(&all, in_all[k], &room), s);
        const char *read = dd_names_read(&small, in_small[k], &room);
        assert_string_equal(read, s);
        /* A name read into another room leaves this one's as it was. */
        dd_names_read(&small, in_small[(k + 1) % N], &other);
        assert_string_equal(read, s);
        free(s);
    }
    /* A name of the scratch file is read, not mapped: the room holds it. */
    assert_true(dd_names_read(&small, in_small[N / 2], &room) == room.s);
    assert_true(room.cap >= DD_NAMES_BLOCK + 5000); /* it read number 777, longer than a block */
    dd_name_room_free(&room);
    dd_name_room_free(&other);
    assert_null(room.s);
    dd_names_free(&all);
    dd_names_free(&small);
    free(in_all);
    free(in_small);
    rmdir(dir);
    free(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Two lists of the same inputs, names all in memory and past a small
 * share in a scratch file: every document the same. */
static void a_list_past_its_share_names_its_documents_alike(void **state)
{
    (void)state;
    char *dir = make_folder("test_names"), *scratch = make_folder("test_names");
    char path[4096];
    snprintf(path, sizeof path, "%s/tree", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int d = 0; d < 20; d++) {
        snprintf(path, sizeof path, "%s/tree/a-folder-with-a-rather-long-name-%02d", dir, d);
        assert_int_equal(mkdir(path, 0755), 0);
        for (int f = 0; f < 50; f++) {
            snprintf(path, sizeof path,
                     "%s/tree/a-folder-with-a-rather-long-name-%02d/a-document-%03d.txt", dir, d,
                     f);
            write_file(path, "some words of text\n");
        }
    }
    snprintf(path, sizeof path, "%s/one.txt", dir);
    write_file(path, "a file named\n");
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int r = 0; r < 300; r++) {
        if (r % 3)
            fprintf(f, "{\"id\": \"record-%04d\", \"text\": \"words %d\"}\n", r, r);
        else
            fprintf(f, "{\"text\": \"words %d\"}\n", r); /* named SHARD:LINE */
    }
    fclose(f);
    char tree[4096], one[4096], shard[4096];
    snprintf(tree, sizeof tree, "%s/tree", dir);
    snprintf(one, sizeof one, "%s/one.txt", dir);
    snprintf(shard, sizeof shard, "%s/records.jsonl", dir);
    char *paths[] = {tree, one, shard};
    dd_records_spec spec = {.field = "text", .scratch_dir = scratch};
    dd_inputs all = {0}, small = {0};
    small.names.max_in_memory = 16 << 10;
    assert_int_equal(dd_inputs_collect(&all, paths, 3, &spec), 0);
    assert_int_equal(dd_inputs_collect(&small, paths, 3, &spec), 0);
    assert_int_equal(all.n, 1000 + 1 + 300);
    assert_int_equal(small.n, all.n);
    assert_true(dd_names_scratch_bytes(&small.names) > 0);
    assert_int_equal(dd_names_scratch_bytes(&all.names), 0);
    assert_true(dd_inputs_memory_bytes(&small) < dd_inputs_memory_bytes(&all));
    assert_int_equal(entries(scratch), 0);
    dd_name_room a_room = {0}, b_room = {0}, room = {0};
    for (size_t i = 0; i < all.n; i++) {
        dd_input a = dd_inputs_get(&all, i, &a_room), b = dd_inputs_get(&small, i, &b_room);
        assert_string_equal(a.path, b.path);
        assert_string_equal(a.id, b.id);
        assert_string_equal(a.out_rel, b.out_rel);
        assert_string_equal(dd_input_id(&small, i, &room), a.id);
        assert_string_equal(dd_input_path(&small, i, &room), a.path);
        assert_string_equal(dd_input_out_rel(&small, i, &room), a.out_rel);
        assert_int_equal(dd_input_line(&small, i), b.line);
        assert_int_equal(dd_input_is_stream(&small, i), b.stream != NULL);
        assert_int_equal(a.size, b.size);
        assert_int_equal(a.line, b.line);
        assert_int_equal(a.named_by_id, b.named_by_id);
        assert_int_equal(a.shard != NULL, b.shard != NULL);
        assert_true(dd_input_shard(&small, i) == b.shard);
    }
    /* What they are: a file found below a named folder, its output name
     * its path below it; the file named, its base name; the records. */
    dd_name_room first_room = {0}, named_room = {0};
    dd_input first = dd_inputs_get(&small, 0, &first_room);
    snprintf(path, sizeof path, "%s/tree/a-folder-with-a-rather-long-name-00/a-document-000.txt",
             dir);
    assert_string_equal(first.path, path);
    assert_string_equal(first.id, path);
    assert_string_equal(first.out_rel, "a-folder-with-a-rather-long-name-00/a-document-000.txt");
    assert_null(first.shard);
    dd_input named = dd_inputs_get(&small, 1000, &named_room);
    assert_string_equal(named.id, one);
    assert_string_equal(named.out_rel, "one.txt");
    dd_input by_line = dd_inputs_get(&small, 1001, &a_room),
             by_id = dd_inputs_get(&small, 1002, &b_room);
    char shard_line[4200];
    snprintf(shard_line, sizeof shard_line, "%s:1", shard);
    assert_string_equal(by_line.id, shard_line);
    char *shown = dd_input_printable_id(&small, 1001); /* read back for a message */
    assert_string_equal(shown, shard_line);
    free(shown);
    assert_false(by_line.named_by_id);
    assert_string_equal(by_line.path, shard);
    assert_string_equal(by_line.out_rel, "records.jsonl");
    assert_int_equal(by_line.line, 1);
    assert_string_equal(by_id.id, "record-0001");
    assert_true(by_id.named_by_id);
    assert_int_equal(by_id.line, 2);
    assert_string_equal(first.out_rel, "a-folder-with-a-rather-long-name-00/a-document-000.txt");
    dd_name_room_free(&a_room);
    dd_name_room_free(&b_room);
    dd_name_room_free(&room);
    dd_name_room_free(&first_room);
    dd_name_room_free(&named_room);
    dd_inputs_free(&all);
    dd_inputs_free(&small);
    remove_folder(dir);
    remove_folder(scratch);
    free(dir);
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_past_the_share_come_back_from_the_scratch_file),
        cmocka_unit_test(a_list_past_its_share_names_its_documents_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
