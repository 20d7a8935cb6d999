/*
 * test_memory.c - unit tests of the memory limit of the process's control
 * group (dd_memory_cgroup_limit, dedup/run/memory.c), which lowers the
 * default --memory in a container or a Slurm job: each test builds, in a
 * new folder, the files the function reads (proc/self/cgroup,
 * proc/self/mountinfo and the groups' folders under the mount points) as
 * cgroup v1 and v2 lay them out, and checks the limit found: the lowest
 * set on the group or a group above it, none where none is set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "temp_folder.h"

#include "run/memory.h"

#include <stdio.h>
#include <sys/stat.h>

/* Writes text to root/name, making the folders above it. */
static void put(const char *root, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, name);
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char v1_mounts[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* A Slurm step under cgroup v1: the job's group has the limit, the step's
 * none of its own (the kernel's "no limit"). */
static void v1_limit_is_inherited_from_the_job(void **state)
{
    (void)state;
    char *root = make_folder("dd-memory");
    put(root, "proc/self/cgroup", "4:memory:/slurm/uid_0/job_7/step_0\n1:cpu:/\n0::/\n");
    put(root, "proc/self/mountinfo", v1_mounts);
    put(root, "sys/fs/cgroup/memory/slurm/uid_0/job_7/step_0/memory.limit_in_bytes",
        "9223372036854771712\n");
    put(root, "sys/fs/cgroup/memory/slurm/uid_0/job_7/memory.limit_in_bytes", "2147483648\n");
    put(root, "sys/fs/cgroup/memory/slurm/memory.limit_in_bytes", "8589934592\n");
    put(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    assert_int_equal(dd_memory_cgroup_limit(root), (uint64_t)2 << 30);

    /* the step's own lower limit wins */
    put(root, "sys/fs/cgroup/memory/slurm/uid_0/job_7/step_0/memory.limit_in_bytes", "536870912\n");
    assert_int_equal(dd_memory_cgroup_limit(root), (uint64_t)512 << 20);
    remove_folder(root);
    free(root);
}

/* cgroup v2 in a container: the mount's root is the container's group,
 * the process's group "max" (no limit), the one above it 768 MiB. */
static void v2_limit_under_a_container_root(void **state)
{
    (void)state;
    char *root = make_folder("dd-memory");
    put(root, "proc/self/cgroup", "0::/ctr/app/worker\n");
    put(root, "proc/self/mountinfo",
        "29 23 0:26 /ctr /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    put(root, "sys/fs/cgroup/app/worker/memory.max", "max\n");
    put(root, "sys/fs/cgroup/app/memory.max", "805306368\n");
    assert_int_equal(dd_memory_cgroup_limit(root), (uint64_t)768 << 20);
    remove_folder(root);
    free(root);
}

/* No limit anywhere (this machine's usual case), a hierarchy without the
 * memory controller (no memory.max), or no /proc at all: UINT64_MAX, and the default
 * budget stays half of MemAvailable. */
static void no_limit_no_files(void **state)
{
    (void)state;
    char *root = make_folder("dd-memory");
    assert_int_equal(dd_memory_cgroup_limit(root), UINT64_MAX);
    put(root, "proc/self/cgroup", "4:memory:/a\n0::/\n");
    put(root, "proc/self/mountinfo", v1_mounts);
    put(root, "sys/fs/cgroup/memory/a/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "sys/fs/cgroup/unified/cgroup.procs", "1\n"); /* v2 without the memory controller */
    assert_true(dd_memory_cgroup_limit(root) >= (uint64_t)1 << 62);
    remove_folder(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_limit_is_inherited_from_the_job),
        cmocka_unit_test(v2_limit_under_a_container_root),
        cmocka_unit_test(no_limit_no_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
