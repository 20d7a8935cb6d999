/*
 * slurm.h - the Slurm executor: a run kept in a work folder (--work-dir),
 * submitted as job arrays, one per stage.
 *
 * The stages of a run in a work folder are sign, group and verify, each of
 * N tasks (task I of a stage makes the parts or partitions whose number
 * modulo N is I: `--stage STAGE --task I --tasks N`), then decide (one
 * task: `--stage decide`). The executor submits the tasks of each stage
 * that are not done as one job array, after every job of the stages
 * before it that is submitted or still queued (--dependency=afterok), and
 * the decide stage as one job after them all. It runs nothing itself:
 * every task is the same dedup command a user could run by hand.
 *
 * What it keeps, under WORK_DIR/slurm/:
 *   jobs                   one line per job submitted, appended:
 *                            STAGE JOBID TASKS I,J,...   (an array's tasks;
 *                                                        STAGE sign, group
 *                                                        or verify)
 *                            decide JOBID TASKS
 *   STAGE.sh, decide.sh    the job scripts of the last submission
 *   logs/STAGE-I.JOBID.log standard output and error of task I of STAGE
 *   logs/decide.JOBID.log  the decide stage's standard error
 *   decide.out             the decide stage's standard output (scan's
 *                          report), in place once the stage has ended
 *   decide.status          its exit status (0 nothing found, 1 found: both
 *                          a success; 2 an error), written as it ends
 * A task's completion is not kept here: a task is done when every one of
 * its parts or partitions has its completion marker in the work folder
 * (the caller says which tasks are, dd_slurm_plan.task_done).
 *
 * sbatch, squeue and scancel are run from $PATH; SLURM_CONF and the other
 * variables of the environment reach them as they are.
 */
#ifndef DD_SLURM_H
#define DD_SLURM_H

#include <stdbool.h>
#include <stddef.h>

/* The stages submitted as job arrays, in their order. */
enum { DD_SLURM_SIGN, DD_SLURM_GROUP, DD_SLURM_VERIFY, DD_SLURM_ARRAYS };

/* "sign", "group", "verify": the name of stage s (< DD_SLURM_ARRAYS), as
 * --stage takes it. */
const char *dd_slurm_stage_name(int s);

/* What to submit. */
typedef struct dd_slurm_plan {
    const char *work_dir; /* absolute */
    const char *cwd;      /* absolute: where the jobs run (relative paths of the command) */
    /* The command every task runs: argv[0] the dedup program (an absolute
     * path), argv[1] the command (scan, clean, check), then its options
     * and paths, NULL-terminated, without --task, --tasks and --stage.
     * After argv[1], a task of stage STAGE adds --stage STAGE --task
     * $SLURM_ARRAY_TASK_ID --tasks N, the decide stage --stage decide. */
    char **argv;
    unsigned long tasks; /* N, in each stage */
    /* [DD_SLURM_ARRAYS][tasks]: every part (sign) or partition (group,
     * verify) of the task is done. */
    const bool *task_done[DD_SLURM_ARRAYS];
    /* sbatch options given by the user (--sbatch-option), for every job,
     * after the executor's own (so that they win). */
    char **sbatch_options;
    size_t nsbatch_options;
} dd_slurm_plan;

/* What dd_slurm_submit did. */
typedef struct dd_slurm_submitted {
    /* For each stage of DD_SLURM_ARRAYS: */
    size_t nsubmitted[DD_SLURM_ARRAYS];  /* tasks submitted */
    size_t nqueued[DD_SLURM_ARRAYS];     /* tasks left as they were: still queued or running */
    size_t ncancelled[DD_SLURM_ARRAYS];  /* tasks cancelled, then submitted again: they
                                            waited for a task of a stage before that failed */
    char array_job[DD_SLURM_ARRAYS][32]; /* the array's job id, "" when none was submitted */
    char decide_job[32];                 /* the decide job's id, "" when none was submitted */
    char decide_queued[32];              /* a decide job left in the queue, "" when none */
    char cancelled[32]; /* a decide job cancelled (it waited for a failed task), or "" */
    bool all_done;      /* every stage was done: nothing submitted */
} dd_slurm_submitted;

/* Submits what is missing, stage after stage: the tasks of a stage that
 * are not done and not in the queue, as one array, after every task not
 * done of the stages before it (afterok on the arrays submitted and on the
 * tasks still queued); then, unless the decide stage has ended well
 * (decide.status 0 or 1) and nothing is left to wait for, the decide stage
 * after them all. A task (or decide job) still queued from an earlier
 * submission is kept when no task of a stage before it is submitted, and
 * cancelled then submitted again otherwise (it waits for a task that
 * failed: it would wait for ever). Returns false with a message in *err (to free) when sbatch,
 * squeue or scancel fails or a file of the work folder cannot be written;
 * what was submitted before the failure is in jobs. */
bool dd_slurm_submit(const dd_slurm_plan *p, dd_slurm_submitted *out, char **err);

/* The state of one task. */
typedef enum dd_task_state {
    DD_TASK_MISSING, /* not done, never submitted */
    DD_TASK_PENDING, /* in the queue, waiting */
    DD_TASK_RUNNING,
    DD_TASK_DONE,
    DD_TASK_FAILED, /* submitted, left the queue without being done */
} dd_task_state;

/* The tasks of one stage submitted as an array. */
typedef struct dd_slurm_stage_status {
    dd_task_state *state; /* [tasks] */
    char **log;           /* [tasks]: the log of the task's last job, or NULL */
    char *reason;         /* why its first task pending waits (squeue), or NULL */
} dd_slurm_stage_status;

/* What dd_slurm_status_read finds. */
typedef struct dd_slurm_status {
    unsigned long tasks; /* N of the last submission (0: never submitted) */
    dd_slurm_stage_status stage[DD_SLURM_ARRAYS];
    dd_task_state decide;
    int decide_exit;     /* decide.status, or -1 */
    char *decide_log;    /* the log of the last decide job, or NULL */
    char *decide_out;    /* WORK_DIR/slurm/decide.out when it is in place, or NULL */
    char *decide_reason; /* why the decide job is pending (squeue), or NULL */
} dd_slurm_status;

/* Asks the queue (squeue) which of the jobs recorded in WORK_DIR/slurm/jobs
 * are still there. task_done(ctx, STAGE, I, N) says whether task I of N of
 * STAGE ("sign", "group", "verify") is done. False with a message in *err when the work folder has
 * no jobs file (nothing was submitted) or squeue fails. */
bool dd_slurm_status_read(const char *work_dir,
                          bool (*task_done)(void *ctx, const char *stage, unsigned long task,
                                            unsigned long tasks),
                          void *ctx, dd_slurm_status *st, char **err);
void dd_slurm_status_free(dd_slurm_status *st);

/* "done", "pending", ... */
const char *dd_task_state_name(dd_task_state s);

#endif
