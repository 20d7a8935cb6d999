/*
 * status.c - dedup status --work-dir DIR: the tasks of a run submitted to
 * Slurm (--executor slurm), stage by stage: done, running, pending, failed,
 * with the end of a failed task's log.
 */
#include "cmd/commands.h"
#include "run/slurm.h"
#include "run/stages.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char status_usage[] =
    "Usage: dedup status --work-dir DIR\n"
    "\n"
    "Shows the tasks of a run that scan or clean --executor slurm submitted\n"
    "from the work folder DIR: for each stage (sign, group, verify: a job array\n"
    "each; then decide), how many tasks are done, running, pending, failed or\n"
    "not submitted, and how many of its parts or partitions are done; the end\n"
    "of the log of each failed task, and why the stage's jobs wait. A task is\n"
    "done when every part or partition it makes has its completion marker in\n"
    "DIR. Running the command that submitted them again submits the tasks that\n"
    "are not done.\n"
    "\n"
    "  -h, --help                show this help and exit\n"
    "\n"
    "Exit status: 0 every stage is done, 1 some task is not done yet (pending,\n"
    "running, failed or not submitted), 2 usage error, or no job was submitted\n"
    "from DIR, or squeue failed.\n";

/* Task I of N of stage is done: every part or partition p with p % N == I
 * is marked. */
static bool task_marked(void *ctx, const char *stage, unsigned long task, unsigned long tasks)
{
    return dd_work_task_marked((const char *)ctx, stage, task, tasks);
}

/* The last lines of a log, indented. */
static void print_log_end(const char *path, size_t lines)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        printf("    (no log%s%s)\n", path ? " at " : "", path ? path : "");
        return;
    }
    char **ring = dd_calloc(lines, sizeof *ring);
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        free(ring[n % lines]);
        ring[n % lines] = dd_strdup(line);
        n++;
    }
    free(line);
    fclose(f);
    printf("    its log, %s%s\n", path, n ? (n > lines ? ", ends:" : ":") : ", is empty");
    for (size_t k = n > lines ? n - lines : 0; k < n; k++) {
        const char *l = ring[k % lines];
        printf("    | %s%s", l, l[strlen(l) - 1] == '\n' ? "" : "\n");
    }
    for (size_t k = 0; k < lines; k++)
        free(ring[k]);
    free(ring);
}

/* One stage's line: its counts by state, ending the line when end. */
static void print_stage(const char *name, const dd_task_state *s, size_t n, bool end)
{
    size_t count[DD_TASK_FAILED + 1] = {0};
    for (size_t i = 0; i < n; i++)
        count[s[i]]++;
    printf("%s: %zu %s: %zu done, %zu running, %zu pending, %zu failed, %zu not submitted%s", name,
           n, n == 1 ? "task" : "tasks", count[DD_TASK_DONE], count[DD_TASK_RUNNING],
           count[DD_TASK_PENDING], count[DD_TASK_FAILED], count[DD_TASK_MISSING], end ? "\n" : "");
}

/* Why the jobs of a stage wait ("the decide job waits", "the group tasks
 * wait"), as squeue says. */
static void print_reason(const char *jobs_wait, const char *reason)
{
    if (!reason)
        return;
    bool never = !strcmp(reason, "DependencyNeverSatisfied");
    printf("  %s: %s%s\n", jobs_wait, reason,
           never ? " (a task of a stage before failed: run the command that submitted it again)"
                 : "");
}

int cmd_status(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(status_usage, stdout);
            return DD_EXIT_CLEAN;
        } else if (!strcmp(a, "--work-dir") && i + 1 < argc && !dir) {
            dir = argv[++i];
        } else if (!strncmp(a, "--work-dir=", 11) && a[11] && !dir) {
            dir = a + 11;
        } else {
            dd_error("status: give the work folder: dedup status --work-dir DIR");
            fputs(status_usage, stderr);
            return DD_EXIT_ERROR;
        }
    }
    if (!dir) {
        dd_error("status: give the work folder: dedup status --work-dir DIR");
        fputs(status_usage, stderr);
        return DD_EXIT_ERROR;
    }
    dd_slurm_status st;
    char *err = NULL;
    if (!dd_slurm_status_read(dir, task_marked, (void *)dir, &st, &err)) {
        dd_error("status: %s", err);
        free(err);
        return DD_EXIT_ERROR;
    }
    for (int s = 0; s < DD_SLURM_ARRAYS; s++) {
        const char *stage = dd_slurm_stage_name(s);
        const dd_slurm_stage_status *ss = &st.stage[s];
        size_t nparts, marked = dd_work_marked(dir, stage, &nparts);
        print_stage(stage, ss->state, st.tasks, false);
        printf("; %zu %s, %zu done", nparts, s == DD_SLURM_SIGN ? "parts" : "partitions", marked);
        /* The documents' partitions, made by the same tasks (run/doc_stages.h). */
        char *docs = dd_asprintf("%s-docs", stage);
        char *docs_dir = dd_asprintf("%s/%s", dir, docs);
        size_t docs_marked = dd_work_marked(dir, docs, &nparts);
        if (s != DD_SLURM_SIGN && access(docs_dir, F_OK) == 0)
            printf(" (of near-duplicate documents: %zu done)", docs_marked);
        printf("\n");
        free(docs);
        free(docs_dir);
        for (unsigned long i = 0; i < st.tasks; i++)
            if (ss->state[i] == DD_TASK_FAILED) {
                printf("  task %lu failed\n", i);
                print_log_end(ss->log[i], 10);
            }
        char *jobs = dd_asprintf("the %s tasks wait", stage);
        print_reason(jobs, ss->reason);
        free(jobs);
    }
    print_stage("decide", &st.decide, 1, true);
    print_reason("the decide job waits", st.decide_reason);
    if (st.decide == DD_TASK_FAILED) {
        if (st.decide_exit >= 0)
            printf("  the decide stage failed (exit %d)\n", st.decide_exit);
        else
            printf("  the decide stage failed\n");
        print_log_end(st.decide_log, 10);
    }
    if (st.decide == DD_TASK_DONE)
        printf("decide ended with exit %d; its standard output (the report): %s\n", st.decide_exit,
               st.decide_out);
    bool all_done = st.decide == DD_TASK_DONE;
    for (int s = 0; s < DD_SLURM_ARRAYS; s++)
        for (unsigned long i = 0; i < st.tasks; i++)
            all_done = all_done && st.stage[s].state[i] == DD_TASK_DONE;
    dd_slurm_status_free(&st);
    return all_done ? DD_EXIT_CLEAN : DD_EXIT_FOUND;
}
