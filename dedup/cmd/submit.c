/*
 * submit.c - scan, clean and check with --executor slurm: the run is planned
 * in its work folder here (the list of inputs, its parts, which tasks are done),
 * and its tasks are submitted to Slurm (run/slurm.h); nothing is analysed in
 * this process.
 */
#include "cmd/submit.h"

#include "report/report.h"
#include "run/slurm.h"
#include "run/stages.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether a is the long option name (or a prefix of it that getopt takes:
 * at least min letters), alone or as "--name=value"; *inline_value says
 * which. */
static bool is_option(const char *a, const char *name, size_t min, bool *inline_value)
{
    if (strncmp(a, "--", 2))
        return false;
    a += 2;
    size_t len = strcspn(a, "=");
    if (len < min || len > strlen(name) || strncmp(a, name, len))
        return false;
    *inline_value = a[len] == '=';
    return true;
}

/* The command a task runs: the dedup program, the command, and argv's
 * options and paths without those of the executor (--executor,
 * --sbatch-option) and --tasks (each task gets its own); the values of
 * --sbatch-option in *sbatch. NULL-terminated. */
static char **task_command(const char *program, int argc, char **argv, char ***sbatch,
                           size_t *nsbatch)
{
    char **cmd = dd_calloc((size_t)argc + 2, sizeof *cmd);
    *sbatch = dd_calloc((size_t)argc + 1, sizeof **sbatch);
    *nsbatch = 0;
    size_t n = 0;
    cmd[n++] = (char *)program;
    cmd[n++] = argv[0];
    bool paths_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool inline_value = false;
        if (!paths_only && !strcmp(a, "--")) {
            paths_only = true;
        } else if (!paths_only && is_option(a, "sbatch-option", 3, &inline_value)) {
            const char *v = inline_value ? strchr(a, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (v)
                (*sbatch)[(*nsbatch)++] = (char *)v;
            continue;
        } else if (!paths_only && (is_option(a, "executor", 3, &inline_value) ||
                                   is_option(a, "tasks", 5, &inline_value))) {
            if (!inline_value)
                i++;
            continue;
        }
        cmd[n++] = argv[i];
    }
    cmd[n] = NULL;
    return cmd;
}

/* Sign task i of n is done: every part p with p % n == i is signed and
 * whole (dd_work_check_part, which reads it back). */
static bool task_signed(dd_work *w, unsigned long i, unsigned long n)
{
    for (size_t k = i; k < w->nparts; k += n) {
        char *why = NULL;
        bool ok = dd_work_check_part(w, k, &why);
        free(why);
        if (!ok)
            return false;
    }
    return true;
}

int dd_submit_slurm(const dd_options *o, int argc, char **argv)
{
    const char *name = argv[0]; /* o->work.dir and o->work.tasks: dd_options_parse checked */
    for (size_t i = 0; i < o->npaths; i++)
        if (!strcmp(o->paths[i], "-")) {
            dd_error("%s: --executor slurm: a job cannot read standard input; name files", name);
            return DD_EXIT_ERROR;
        }

    /* The plan: the input files, as listed (no shard is read), cut into
     * parts; the folder refuses other settings or inputs now, not in every
     * job. */
    dd_sources listed = {0};
    dd_records_spec records = dd_options_records(o);
    int problems = dd_inputs_list(&listed, o->paths, o->npaths, &records);
    dd_sources_free(&listed);
    dd_work w;
    if (problems) { /* named above: a path that is not there, say */
        dd_error("%s: --executor slurm: nothing submitted", name);
        return DD_EXIT_ERROR;
    }
    if (!dd_work_open(&w, o, true)) /* quiet: the listing's problems were said */
        return DD_EXIT_ERROR;
    /* Which tasks are done: a sign task's parts read back, a group or
     * verify task's partitions by their markers (a partition damaged
     * under its marker is made again by the decide stage). */
    unsigned long n = o->work.tasks;
    bool *done = dd_calloc(DD_SLURM_ARRAYS * n, sizeof *done);
    size_t ndone[DD_SLURM_ARRAYS] = {0};
    for (int s = 0; s < DD_SLURM_ARRAYS; s++)
        for (unsigned long i = 0; i < n; i++) {
            bool *d = &done[s * n + i];
            *d = s == DD_SLURM_SIGN
                     ? task_signed(&w, i, n)
                     : dd_work_task_marked(o->work.dir, dd_slurm_stage_name(s), i, n);
            ndone[s] += *d;
        }
    size_t nparts = w.nparts;
    dd_work_free(&w);

    char program[PATH_MAX], cwd[PATH_MAX], work_dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", program, sizeof program - 1);
    if (len <= 0 || !getcwd(cwd, sizeof cwd) || !realpath(o->work.dir, work_dir)) {
        dd_error("%s: --executor slurm: cannot find this program, the current folder or %s: %s",
                 name, o->work.dir, strerror(errno));
        free(done);
        return DD_EXIT_ERROR;
    }
    program[len] = '\0';
    char **sbatch;
    size_t nsbatch;
    char **cmd = task_command(program, argc, argv, &sbatch, &nsbatch);
    dd_slurm_plan plan = {
        .work_dir = work_dir,
        .cwd = cwd,
        .argv = cmd,
        .tasks = o->work.tasks,
        .task_done = {done, done + n, done + 2 * n},
        .sbatch_options = sbatch,
        .nsbatch_options = nsbatch,
    };
    dd_slurm_submitted s;
    char *err = NULL;
    bool ok = dd_slurm_submit(&plan, &s, &err);
    if (!ok) {
        dd_error("%s: %s", name, err);
        free(err);
    }
    printf("%s: %zu parts, %lu tasks a stage; done: %zu sign, %zu group, %zu verify tasks\n", name,
           nparts, n, ndone[DD_SLURM_SIGN], ndone[DD_SLURM_GROUP], ndone[DD_SLURM_VERIFY]);
    bool waits = false; /* on tasks of the stages before */
    for (int k = 0; k < DD_SLURM_ARRAYS; k++) {
        const char *stage = dd_slurm_stage_name(k);
        if (s.ncancelled[k])
            printf("%s: %zu queued %s cancelled (they waited for a task that failed)\n", stage,
                   s.ncancelled[k], dd_plural(s.ncancelled[k], "task", "tasks"));
        if (s.array_job[k][0])
            printf("%s: %zu %s submitted as job array %s%s\n", stage, s.nsubmitted[k],
                   dd_plural(s.nsubmitted[k], "task", "tasks"), s.array_job[k],
                   waits ? ", after the stages before (afterok)" : "");
        if (s.nqueued[k])
            printf("%s: %zu %s still queued or running from an earlier submission\n", stage,
                   s.nqueued[k], dd_plural(s.nqueued[k], "task", "tasks"));
        waits = waits || s.nsubmitted[k] || s.nqueued[k];
    }
    if (s.cancelled[0])
        printf("decide: job %s cancelled (it waited for a task that failed)\n", s.cancelled);
    if (s.decide_job[0])
        printf("decide: submitted as job %s%s\n", s.decide_job,
               waits ? ", after the stages before (afterok)" : "");
    if (s.decide_queued[0])
        printf("decide: job %s is still queued\n", s.decide_queued);
    if (ok && s.all_done)
        printf("%s: every stage is done: nothing to submit\n", name);
    if (ok)
        printf("dedup status --work-dir %s shows the tasks; the report will be in "
               "%s/slurm/decide.out\n",
               o->work.dir, work_dir);
    free(cmd);
    free(sbatch);
    free(done);
    return ok ? DD_EXIT_CLEAN : DD_EXIT_ERROR;
}
