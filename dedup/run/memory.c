/*
 * memory.c - where a run's memory goes (memory.h).
 */
#include "run/memory.h"

#include "io/spool.h"
#include "util.h"

#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The number file path starts with, in *value; false when it cannot be
 * read, or says "max" (cgroup v2: no limit). */
static bool read_number(const char *path, uint64_t *value)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%" SCNu64, value) == 1;
    fclose(f);
    return ok;
}

/* The lowest of the limits file (memory.max, memory.limit_in_bytes) sets
 * on the group at folder group and on each group above it, up to the
 * mount point mount (a limit is inherited: a Slurm step's group has none
 * of its own, its job's group has it). */
static uint64_t lowest_limit(char *group, size_t mount_len, const char *file)
{
    uint64_t lowest = UINT64_MAX;
    for (;;) {
        char path[PATH_MAX];
        uint64_t limit;
        if (snprintf(path, sizeof path, "%s/%s", group, file) < (int)sizeof path &&
            read_number(path, &limit) && limit < lowest)
            lowest = limit;
        char *slash = strrchr(group, '/');
        if (!slash || (size_t)(slash - group) < mount_len)
            return lowest;
        *slash = '\0';
    }
}

/* In *group: the folder of the group path (of /proc/self/cgroup) under a
 * hierarchy mounted at mount from its root mount_root (/proc/self/mountinfo),
 * with root before it. False when it does not fit. */
static bool group_folder(char *group, size_t cap, const char *root, const char *mount,
                         const char *mount_root, const char *path)
{
    size_t n = strlen(mount_root);
    if (strcmp(mount_root, "/") != 0 && strncmp(path, mount_root, n) == 0)
        path += n;
    int len = snprintf(group, cap, "%s%s%s", root, mount, strcmp(path, "/") == 0 ? "" : path);
    return len > 0 && (size_t)len < cap;
}

uint64_t dd_memory_cgroup_limit(const char *root)
{
    /* Which group the process is in: "0::PATH" (v2), "N:...memory...:PATH" (v1). */
    char path[PATH_MAX], v1_path[PATH_MAX] = "", v2_path[PATH_MAX] = "";
    snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
    FILE *f = fopen(path, "r");
    if (!f)
        return UINT64_MAX;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *controllers = strchr(line, ':');
        char *group = controllers ? strchr(controllers + 1, ':') : NULL;
        if (!group)
            continue;
        *group++ = '\0';
        *controllers++ = '\0';
        if (strcmp(line, "0") == 0 && !*controllers)
            snprintf(v2_path, sizeof v2_path, "%s", group);
        char *rest;
        for (char *c = strtok_r(controllers, ",", &rest); c; c = strtok_r(NULL, ",", &rest))
            if (strcmp(c, "memory") == 0)
                snprintf(v1_path, sizeof v1_path, "%s", group);
    }
    fclose(f);

    /* Where those hierarchies are mounted: "ID PARENT DEV ROOT MOUNT ... - TYPE SOURCE OPTIONS". */
    snprintf(path, sizeof path, "%s/proc/self/mountinfo", root);
    if (!(f = fopen(path, "r")))
        return UINT64_MAX;
    uint64_t lowest = UINT64_MAX;
    while (fgets(line, sizeof line, f)) {
        char mount_root[PATH_MAX], mount[PATH_MAX], type[64], options[1024];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", mount_root, mount) != 2 ||
            sscanf(dash + 3, "%63s %*s %1023s", type, options) != 2)
            continue;
        bool v2 = strcmp(type, "cgroup2") == 0 && *v2_path;
        bool v1 = strcmp(type, "cgroup") == 0 && *v1_path;
        if (v1) {
            v1 = false;
            char *rest;
            for (char *o = strtok_r(options, ",", &rest); o; o = strtok_r(NULL, ",", &rest))
                v1 |= strcmp(o, "memory") == 0;
        }
        char group[PATH_MAX];
        if ((v1 || v2) &&
            group_folder(group, sizeof group, root, mount, mount_root, v2 ? v2_path : v1_path)) {
            uint64_t limit = lowest_limit(group, strlen(root) + strlen(mount),
                                          v2 ? "memory.max" : "memory.limit_in_bytes");
            if (limit < lowest)
                lowest = limit;
        }
    }
    fclose(f);
    return lowest;
}

/* The default budget, read once (pthread_once), so that every share of a
 * run and the figure DEDUP_RUN_STATS prints are of the same budget. */
static uint64_t default_budget;
static pthread_once_t default_budget_once = PTHREAD_ONCE_INIT;

static void read_default_budget(void)
{
    uint64_t kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
                break;
        fclose(f);
    }
    uint64_t available = kb ? kb * 1024 : UINT64_MAX;
    uint64_t limit = dd_memory_cgroup_limit("");
    if (limit < available)
        available = limit;
    uint64_t half = available == UINT64_MAX ? (uint64_t)1 << 30 : available / 2;
    default_budget = half < ((uint64_t)64 << 20) ? (uint64_t)64 << 20 : half;
}

uint64_t dd_memory_default(void)
{
    pthread_once(&default_budget_once, read_default_budget);
    return default_budget;
}

/* One part of `parts` of the budget (0: the default budget). */
static size_t share_of(uint64_t budget, unsigned parts)
{
    if (!budget)
        budget = dd_memory_default();
    uint64_t share = budget / parts;
    return share > SIZE_MAX ? SIZE_MAX : (size_t)share;
}

size_t dd_memory_units_share(uint64_t budget) { return share_of(budget, 4); }

size_t dd_memory_near_units_share(uint64_t budget) { return share_of(budget, 16); }

size_t dd_memory_signatures_share(uint64_t budget) { return share_of(budget, 16); }
size_t dd_memory_names_share(uint64_t budget) { return share_of(budget, 32); }
size_t dd_memory_input_records_share(uint64_t budget) { return share_of(budget, 64); }
size_t dd_memory_read_as_share(uint64_t budget) { return share_of(budget, 64); }
size_t dd_memory_near_across_share(uint64_t budget) { return share_of(budget, 2); }

size_t dd_memory_rounds_share(uint64_t budget) { return share_of(budget, 4); }

size_t dd_memory_paragraph_later_share(uint64_t budget) { return share_of(budget, 16); }

size_t dd_memory_clustering_share(uint64_t budget) { return share_of(budget, 4); }

size_t dd_memory_findings_share(uint64_t budget) { return share_of(budget, 64); }

bool dd_memory_placer_fits(uint64_t budget, size_t ndocs)
{
    return (uint64_t)ndocs * DD_PLACER_BYTES_A_DOC <= dd_memory_clustering_share(budget);
}

size_t dd_memory_set_cache_share(uint64_t budget)
{
    size_t share = share_of(budget, 16), most = (size_t)16 << 20;
    return share < most ? share : most;
}

/* The scratch files a run holds at once, past those of the shelves (9 a
 * shelf, one a thread and two more): at most 64 parts of band keys being
 * cut (near_across.c's MAX_PARTS), the 7 bands' pairs, and a few each of
 * the corpus and the rounds. */
#define OTHER_SCRATCH_FILES 80
#define SCRATCH_FILES_A_SHELF 9
#define FEWEST_SCRATCH_BUFFER ((size_t)8 << 10)
#define MOST_SCRATCH_BUFFER ((size_t)1 << 20)

size_t dd_memory_scratch_buffer(uint64_t budget, unsigned threads)
{
    size_t files = SCRATCH_FILES_A_SHELF * ((size_t)threads + 2) + OTHER_SCRATCH_FILES;
    size_t bytes = share_of(budget, 16) / files;
    if (bytes < FEWEST_SCRATCH_BUFFER)
        return FEWEST_SCRATCH_BUFFER;
    return bytes > MOST_SCRATCH_BUFFER ? MOST_SCRATCH_BUFFER : bytes;
}

/* What a malloc heap (one for each thread) may keep free at its top
 * before it gives it back (M_TRIM_THRESHOLD). glibc's 128 KiB gives back
 * what the next document's arrays take again at once, a page fault for
 * each 4 KiB (13-21 us of CPU a fault on the virtual machines this runs
 * on: bench/README.md, Threads): the news scan made 16,700 faults at -j 1
 * and 14,200 at -j 2; keeping up to 16 MiB, 9,400 and 10,400 (1 MiB:
 * 16,650 and 13,750; 4 MiB: 11,500 and 11,750), its peak 83.7 -> 88.7 MB
 * at -j 1, 91.1 -> 94.5 MB at -j 2. At most a 64th of the budget for all
 * the heaps: at --memory 64M on 2 threads, 340 KiB a heap. */
#define MOST_HEAP_KEPT_FREE ((size_t)16 << 20)
#define FEWEST_HEAP_KEPT_FREE ((size_t)128 << 10)

static size_t heap_kept_free(uint64_t budget, unsigned threads)
{
    size_t bytes = share_of(budget, 64) / ((size_t)threads + 1);
    if (bytes < FEWEST_HEAP_KEPT_FREE)
        return FEWEST_HEAP_KEPT_FREE;
    return bytes > MOST_HEAP_KEPT_FREE ? MOST_HEAP_KEPT_FREE : bytes;
}

void dd_memory_hold_to_budget(uint64_t budget, unsigned threads)
{
    dd_spool_set_buffer_bytes(dd_memory_scratch_buffer(budget, threads));
    /* glibc maps a block of 128 KiB or more on its own, until one such
     * block is freed: from then on, blocks up to that one's size (up to 32
     * MiB) come from the heaps. The run's large blocks (a phase's tables,
     * arrays that double) then stay in the heaps once freed, in pieces that
     * a later phase, on another thread or of other sizes, does not reuse:
     * on 1 GB at --memory 64M -j 2, 47 MB freed and kept of 86 MB held at
     * the end of the first pass, 66 of 105 after the clustering, a peak of
     * 114 to 120 MB. A fixed threshold of 1 MiB keeps them out of the
     * heaps: 6 and 19 MB freed and kept there, a peak of 78 to 80 MB.
     * What it costs: a large block allocated again (a part of the band
     * keys across documents, of a round's table) is mapped and its pages
     * touched again: 54,000 page faults became 374,000 on that run, about
     * 5 s of system time of 60 (news at -j 2: 1.58 s CPU against 1.49-1.52,
     * best of 5). Not lower: at 256 KiB, 42.4 + 27.6 s CPU against 31.1 +
     * 17.0 (session 13). malloc_trim at the end of each phase was not kept:
     * it gave back pages the next phase touched again (news at -j 2: 1.91 s
     * CPU against 1.58), and the peaks are within phases. */
    mallopt(M_MMAP_THRESHOLD, (int)DD_MALLOC_OWN_MAPPING);
    mallopt(M_TRIM_THRESHOLD, (int)heap_kept_free(budget, threads));
    /* A thread's heap (not the main one, which grows by brk) is a mapping
     * of 64 MiB that glibc opens to reading and writing (mprotect) as the
     * heap grows, by only what each block lacks: the news scan at -j 2
     * made 250-360 mprotect calls, most on the clustering's workers, each a
     * system call that takes the address space's lock for writing, so that
     * the other thread's page faults and mappings wait for it. M_TOP_PAD
     * is what a heap is opened (and the main heap grown by brk) beyond
     * what a block needs: pages opened but not touched cost no memory, and
     * what a heap keeps at its top once trimmed is no more than
     * M_TRIM_THRESHOLD lets it keep before. The news at -j 2: 19 mprotect
     * calls (the loader's), brk 57-64 -> 4 (bench/README.md, Threads,
     * session 23, cpu23). */
    mallopt(M_TOP_PAD, (int)heap_kept_free(budget, threads));
}

void dd_memory_process(FILE *out, const char *when)
{
    uint64_t rss = 0, peak = 0, files = 0, kb;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kb) == 1)
            rss = kb;
        else if (sscanf(line, "VmHWM: %" SCNu64 " kB", &kb) == 1)
            peak = kb;
        else if (sscanf(line, "RssFile: %" SCNu64 " kB", &kb) == 1)
            files = kb;
    }
    fclose(f);
    /* The heap's blocks in use and those freed but still held by malloc
     * (in every arena: mallinfo2 sums them), so that what the run's data
     * holds and what the allocator keeps can be told apart. */
    struct mallinfo2 heap = mallinfo2();
    fprintf(out,
            "dedup: memory at %s: the process holds %.1f MB (%.1f MB of it files mapped: code, "
            "libraries, ICU's data), at most %.1f MB so far\n",
            when, (double)rss * 1024 / 1e6, (double)files * 1024 / 1e6, (double)peak * 1024 / 1e6);
    fprintf(out, "dedup: memory at %s: malloc: %.1f MB in use, %.1f MB freed and kept\n", when,
            (double)(heap.uordblks + heap.hblkhd) / 1e6, (double)heap.fordblks / 1e6);
}

size_t dd_memory_heap_in_use(void)
{
    struct mallinfo2 heap = mallinfo2();
    return heap.uordblks + heap.hblkhd;
}

typedef struct held {
    const char *name;
    size_t bytes;
} held;

static int by_bytes_down(const void *a, const void *b)
{
    const held *x = a, *y = b;
    return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

void dd_memory_account(FILE *out, const char *when, const dd_corpus *c, size_t across_bytes)
{
    size_t docs = c->inputs.n;
    const dd_signatures *s = &c->signatures;
    /* (the text versions are the rounds', but allocated with the flags) */
    size_t flags = sizeof *c->failed + sizeof *c->reread + sizeof *c->text_version;
    held v[] = {
        {"units of every document (corpus units)", dd_units_memory_bytes(&c->units)},
        {"unit starts", dd_unit_starts_bytes(&c->unit_starts)},
        {"paragraphs' sets and band keys (past the budget: in scratch files)", across_bytes},
        {"document signatures (MinHash, keys, sizes; past the budget: keys, sizes)",
         s->cap * sizeof *s->docs + dd_signatures_minhash_bytes(s) +
             (s->simhash ? s->cap * sizeof *s->simhash : 0)},
        {"near-repeats of paragraphs found (past the budget: a batch's)",
         dd_scratch_array_memory_bytes(&c->near_units) +
             c->near_found.cap * sizeof *c->near_found.v},
        {"input list (records, names; past the budget: in scratch files)",
         dd_inputs_memory_bytes(&c->inputs)},
        {"per-document digests and sizes (past the budget: in a scratch file)",
         dd_scratch_array_memory_bytes(&c->read_as)},
        {"per-document flags (failed, read again) and text versions", docs * flags},
    };
    size_t n = sizeof v / sizeof *v, total = 0;
    qsort(v, n, sizeof *v, by_bytes_down);
    for (size_t k = 0; k < n; k++) {
        total += v[k].bytes;
        fprintf(out, "dedup: memory %s: %s: %.1f MB (%.0f bytes a document)\n", when, v[k].name,
                (double)v[k].bytes / 1e6, docs ? (double)v[k].bytes / (double)docs : 0.0);
    }
    fprintf(out, "dedup: memory %s: total of these: %.1f MB (%.0f bytes a document, %zu units)\n",
            when, (double)total / 1e6, docs ? (double)total / (double)docs : 0.0, c->units.n);
}
