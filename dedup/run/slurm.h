/*
 * slurm.h - the Slurm executor: a run kept in a work folder (--work-dir),
 * submitted as job arrays, one per stage.
 *
 * The stages of a run in a work folder are sign (N tasks: task I signs the
 * parts whose number modulo N is I, `--task I --tasks N`) and decide (one
 * task: `--stage decide`, from the parts all signed). The executor submits
 * the sign tasks that are not done as one job array, and the decide stage
 * as one job that waits for them (--dependency=afterok). It runs nothing
 * itself: every task is the same dedup command a user could run by hand.
 *
 * What it keeps, under WORK_DIR/slurm/:
 *   jobs                   one line per job submitted, appended:
 *                            sign JOBID TASKS I,J,...   (the array's tasks)
 *                            decide JOBID TASKS
 *   sign.sh, decide.sh     the job scripts of the last submission
 *   logs/sign-I.JOBID.log  standard output and error of sign task I
 *   logs/decide.JOBID.log  the decide stage's standard error
 *   decide.out             the decide stage's standard output (scan's
 *                          report), in place once the stage has ended
 *   decide.status          its exit status (0 nothing found, 1 found: both
 *                          a success; 2 an error), written as it ends
 * A task's completion is not kept here: a sign task is done when every one
 * of its parts has its completion marker in the work folder (the caller
 * says which tasks are, dd_slurm_plan.task_done).
 *
 * sbatch, squeue and scancel are run from $PATH; SLURM_CONF and the other
 * variables of the environment reach them as they are.
 */
#ifndef DD_SLURM_H
#define DD_SLURM_H

#include <stdbool.h>
#include <stddef.h>

/* What to submit. */
typedef struct dd_slurm_plan {
    const char *work_dir; /* absolute */
    const char *cwd;      /* absolute: where the jobs run (relative paths of the command) */
    /* The command every task runs: argv[0] the dedup program (an absolute
     * path), argv[1] the command (scan, clean, check), then its options
     * and paths, NULL-terminated, without --task, --tasks and --stage.
     * After argv[1], a sign task adds --task $SLURM_ARRAY_TASK_ID --tasks
     * N, the decide stage --stage decide. */
    char **argv;
    unsigned long tasks;   /* N */
    const bool *task_done; /* [tasks]: every part of the task has its marker */
    /* sbatch options given by the user (--sbatch-option), for every job,
     * after the executor's own (so that they win). */
    char **sbatch_options;
    size_t nsbatch_options;
} dd_slurm_plan;

/* What dd_slurm_submit did. */
typedef struct dd_slurm_submitted {
    size_t nsign;           /* sign tasks submitted */
    size_t nsign_queued;    /* sign tasks left as they were: still queued or running */
    char sign_job[32];      /* the array's job id, "" when none was submitted */
    char decide_job[32];    /* the decide job's id, "" when none was submitted */
    char decide_queued[32]; /* a decide job left in the queue, "" when none */
    char cancelled[32];     /* a decide job cancelled (it waited for a failed task), or "" */
    bool all_done;          /* every stage was done: nothing submitted */
} dd_slurm_submitted;

/* Submits what is missing: the sign tasks that are not done and not in the
 * queue, as one array; then, unless the decide stage has ended well
 * (decide.status 0 or 1), the decide stage after every sign task not done
 * (afterok on the new array and on the tasks still queued). A decide job
 * still queued from an earlier submission is kept when no sign task is
 * submitted, and cancelled (it would wait for ever on a failed task)
 * otherwise. Returns false with a message in *err (to free) when sbatch,
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

/* What dd_slurm_status_read finds. */
typedef struct dd_slurm_status {
    unsigned long tasks; /* N of the last submission (0: never submitted) */
    dd_task_state *sign; /* [tasks] */
    char **sign_log;     /* [tasks]: the log of the task's last job, or NULL */
    dd_task_state decide;
    int decide_exit;     /* decide.status, or -1 */
    char *decide_log;    /* the log of the last decide job, or NULL */
    char *decide_out;    /* WORK_DIR/slurm/decide.out when it is in place, or NULL */
    char *decide_reason; /* why the decide job is pending (squeue), or NULL */
} dd_slurm_status;

/* Asks the queue (squeue) which of the jobs recorded in WORK_DIR/slurm/jobs
 * are still there. task_done(ctx, I, N) says whether sign task I of N is
 * done. False with a message in *err when the work folder has no jobs file
 * (nothing was submitted) or squeue fails. */
bool dd_slurm_status_read(const char *work_dir,
                          bool (*task_done)(void *ctx, unsigned long task, unsigned long tasks),
                          void *ctx, dd_slurm_status *st, char **err);
void dd_slurm_status_free(dd_slurm_status *st);

/* "done", "pending", ... */
const char *dd_task_state_name(dd_task_state s);

#endif
