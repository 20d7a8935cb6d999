/*
 * slurm.c - the Slurm executor (slurm.h): job scripts, sbatch, squeue and
 * scancel, and the jobs file of a work folder.
 */
#include "run/slurm.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- Running a program ---------------------------------------------------- */

/* A growable string. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void text_add(text *t, const char *s, size_t n)
{
    dd_grow(&t->s, &t->cap, t->n + n + 1, 1);
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = '\0';
}

static void text_addf(text *t, const char *s) { text_add(t, s, strlen(s)); }

/* Runs argv (argv[0] found in $PATH), its standard input /dev/null, and
 * collects its standard output and error. Returns its exit status, or -1
 * when it could not be started or ended on a signal (said in *errout). */
static int run_program(char *const argv[], text *out, text *errout)
{
    int po[2], pe[2];
    if (pipe(po) != 0)
        return -1;
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        char *m = dd_asprintf("cannot run %s: %s", argv[0], strerror(rc));
        text_addf(errout, m);
        free(m);
        return -1;
    }
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    text *to[2] = {out, errout};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !fds[k].revents)
                continue;
            char buf[4096];
            ssize_t n = read(fds[k].fd, buf, sizeof buf);
            if (n > 0) {
                text_add(to[k], buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k].fd >= 0)
            close(fds[k].fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    char *m = dd_asprintf("%s ended on signal %d", argv[0], WTERMSIG(status));
    text_addf(errout, m);
    free(m);
    return -1;
}

/* "PROGRAM failed (exit N): its stderr" as a new string. */
static char *program_error(const char *program, int status, const text *errout)
{
    const char *msg = errout->n ? errout->s : "";
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    if (status < 0)
        return dd_asprintf("%s failed: %.*s", program, (int)len, msg);
    return dd_asprintf("%s failed (exit %d): %.*s", program, status, (int)len, msg);
}

/* ---- Files of the work folder ------------------------------------------- */

/* path/name as a new string. */
static char *path_join(const char *dir, const char *name)
{
    return dd_asprintf("%s/%s", dir, name);
}

/* Writes data to path under a temporary name, then renames it into place. */
static bool write_file(const char *path, const char *data, size_t len, mode_t mode, char **err)
{
    char *tmp = dd_asprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += ok ? (size_t)n : 0;
    }
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        *err = dd_asprintf("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

static bool make_dir(const char *path, char **err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return true;
    *err = dd_asprintf("cannot make the folder %s: %s", path, strerror(errno));
    return false;
}

/* Reads a whole small file into a new string; NULL when it cannot. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    text t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        text_add(&t, buf, n);
    fclose(f);
    if (!t.s)
        t.s = dd_strdup("");
    return t.s;
}

/* ---- Job scripts ------------------------------------------------------- */

/* Appends s to t in single quotes, for sh. */
static void add_quoted(text *t, const char *s)
{
    text_addf(t, "'");
    for (; *s; s++) {
        if (*s == '\'')
            text_addf(t, "'\\''");
        else
            text_add(t, s, 1);
    }
    text_addf(t, "'");
}

/* The command of p, with stage_options (already quoted for sh) after its
 * command name, before the options and paths that may follow a "--". */
static void add_command(text *t, const dd_slurm_plan *p, const char *stage_options)
{
    add_quoted(t, p->argv[0]);
    text_addf(t, " ");
    add_quoted(t, p->argv[1]);
    text_addf(t, " ");
    text_addf(t, stage_options);
    for (size_t i = 2; p->argv[i]; i++) {
        text_addf(t, " ");
        add_quoted(t, p->argv[i]);
    }
}

const char *dd_slurm_stage_name(int s)
{
    static const char *const names[DD_SLURM_ARRAYS] = {"sign", "group", "verify"};
    return s >= 0 && s < DD_SLURM_ARRAYS ? names[s] : "?";
}

/* STAGE.sh: one task of the stage's array, the dedup command with --stage
 * STAGE --task $SLURM_ARRAY_TASK_ID --tasks N. */
static char *task_script(const dd_slurm_plan *p, const char *stage)
{
    text t = {0};
    char *line = dd_asprintf("#!/bin/sh\n"
                             "# A %s task of dedup's Slurm executor: task $SLURM_ARRAY_TASK_ID of "
                             "the array.\n"
                             "cd ",
                             stage);
    text_addf(&t, line);
    free(line);
    add_quoted(&t, p->cwd);
    text_addf(&t, " || exit 2\n");
    char *task =
        dd_asprintf("--stage %s --task \"$SLURM_ARRAY_TASK_ID\" --tasks %lu", stage, p->tasks);
    add_command(&t, p, task);
    free(task);
    /* How the task ended, in its log, when it did not end well (killed,
     * say: a process killed writes nothing itself). */
    char *end = dd_asprintf(
        "\nstatus=$?\n"
        "if [ \"$status\" -gt 128 ]; then\n"
        "    echo \"%s task $SLURM_ARRAY_TASK_ID: dedup ended on signal $((status - 128))\" >&2\n"
        "elif [ \"$status\" -ne 0 ]; then\n"
        "    echo \"%s task $SLURM_ARRAY_TASK_ID: dedup ended with exit status $status\" >&2\n"
        "fi\n"
        "exit \"$status\"\n",
        stage, stage);
    text_addf(&t, end);
    free(end);
    return t.s;
}

/* decide.sh: the decide stage. Its standard output goes to decide.out
 * (renamed into place when it ends well), then its exit status to
 * decide.status, in that order: dedup status reads the stage as done from
 * decide.status, so the report must be in place before it; 1 (duplicates
 * found) is a success for Slurm too. */
static char *decide_script(const dd_slurm_plan *p, const char *slurm_dir)
{
    text t = {0};
    text_addf(&t, "#!/bin/sh\n"
                  "# The decide stage of dedup's Slurm executor.\n"
                  "dir=");
    add_quoted(&t, slurm_dir);
    text_addf(&t, "\ncd ");
    add_quoted(&t, p->cwd);
    text_addf(&t, " || exit 2\n");
    add_command(&t, p, "--stage decide");
    text_addf(&t, " >\"$dir/decide.out.tmp\"\n"
                  "status=$?\n"
                  "case $status in\n"
                  "0 | 1) mv \"$dir/decide.out.tmp\" \"$dir/decide.out\" || status=2 ;;\n"
                  "esac\n"
                  "echo \"$status\" >\"$dir/decide.status.tmp\" && "
                  "mv \"$dir/decide.status.tmp\" \"$dir/decide.status\"\n"
                  "case $status in\n"
                  "0 | 1) exit 0 ;;\n"
                  "esac\n"
                  "exit \"$status\"\n");
    return t.s;
}

/* ---- The jobs file and the queue -------------------------------------- */

/* The last job of each task of each stage and of the decide stage, as the
 * jobs file records them (ids as the queue shows them: "12_3", "13"). */
typedef struct job_record {
    unsigned long tasks;         /* N of the last submission */
    char **job[DD_SLURM_ARRAYS]; /* [stage][tasks] */
    char *decide_job;
} job_record;

static void job_record_free(job_record *r)
{
    for (int s = 0; s < DD_SLURM_ARRAYS; s++) {
        for (unsigned long i = 0; r->job[s] && i < r->tasks; i++)
            free(r->job[s][i]);
        free(r->job[s]);
    }
    free(r->decide_job);
    memset(r, 0, sizeof *r);
}

/* The stage of DD_SLURM_ARRAYS named kind, or -1. */
static int stage_of(const char *kind)
{
    for (int s = 0; s < DD_SLURM_ARRAYS; s++)
        if (!strcmp(kind, dd_slurm_stage_name(s)))
            return s;
    return -1;
}

/* Reads WORK_DIR/slurm/jobs. Lines of another N than the last one (a run
 * submitted again with other --tasks) are older and are skipped. False
 * when there is no jobs file. */
static bool job_record_read(const char *slurm_dir, job_record *r)
{
    memset(r, 0, sizeof *r);
    char *path = path_join(slurm_dir, "jobs");
    char *data = read_file(path);
    free(path);
    if (!data)
        return false;
    /* First the N of the last line, then the lines of that N in order. */
    for (char *line = data; *line;) {
        char *end = strchr(line, '\n');
        char kind[16], id[32];
        unsigned long n;
        if (sscanf(line, "%15s %31s %lu", kind, id, &n) == 3 && n > 0)
            r->tasks = n;
        line = end ? end + 1 : line + strlen(line);
    }
    for (int s = 0; r->tasks && s < DD_SLURM_ARRAYS; s++)
        r->job[s] = dd_calloc(r->tasks, sizeof *r->job[s]);
    for (char *line = data; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char kind[16], id[32];
        unsigned long n;
        int off = 0, stage;
        if (sscanf(line, "%15s %31s %lu %n", kind, id, &n, &off) >= 3 && n == r->tasks) {
            if (!strcmp(kind, "decide")) {
                free(r->decide_job);
                r->decide_job = dd_strdup(id);
            } else if ((stage = stage_of(kind)) >= 0 && off > 0) {
                for (char *s = line + off; *s;) {
                    char *after;
                    unsigned long i = strtoul(s, &after, 10);
                    if (after == s)
                        break;
                    if (i < r->tasks) {
                        free(r->job[stage][i]);
                        r->job[stage][i] = dd_asprintf("%s_%lu", id, i);
                    }
                    s = *after == ',' ? after + 1 : after;
                    if (*after != ',')
                        break;
                }
            }
        }
        line = end ? end + 1 : line + strlen(line);
    }
    free(data);
    return true;
}

/* The jobs of this user in the queue, one "ID STATE REASON" a line, arrays
 * expanded ("12_3 RUNNING None", "13 PENDING Dependency"). */
static bool queue_read(text *queue, char **err)
{
    char uid[32];
    snprintf(uid, sizeof uid, "%lu", (unsigned long)getuid());
    char *argv[] = {"squeue", "-h", "-r", "-u", uid, "-o", "%i %T %r", NULL};
    text errout = {0};
    int st = run_program(argv, queue, &errout);
    if (st != 0)
        *err = program_error("squeue", st, &errout);
    free(errout.s);
    if (st == 0 && !queue->s)
        queue->s = dd_strdup("");
    return st == 0;
}

/* The state of job id in the queue, DD_TASK_DONE when it is not there. */
static dd_task_state queue_state(const text *queue, const char *id)
{
    size_t len = strlen(id);
    for (const char *line = queue->s; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!strncmp(line, id, len) && line[len] == ' ') {
            const char *state = line + len + 1;
            if (!strncmp(state, "PENDING", 7) || !strncmp(state, "CONFIGURING", 11) ||
                !strncmp(state, "REQUEUED", 8) || !strncmp(state, "SUSPENDED", 9))
                return DD_TASK_PENDING;
            if (!strncmp(state, "RUNNING", 7) || !strncmp(state, "COMPLETING", 10))
                return DD_TASK_RUNNING;
            return DD_TASK_DONE; /* ended: completed, failed, cancelled... */
        }
        line = end ? end + 1 : line + strlen(line);
    }
    return DD_TASK_DONE;
}

/* Why job id waits in the queue (squeue's reason: "Dependency",
 * "DependencyNeverSatisfied", "Resources"...), a new string; NULL when it is
 * not there. */
static char *queue_reason(const text *queue, const char *id)
{
    size_t len = strlen(id);
    for (const char *line = queue->s; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!strncmp(line, id, len) && line[len] == ' ') {
            const char *reason = line + len + 1 + strcspn(line + len + 1, " \n");
            if (*reason != ' ')
                return NULL;
            reason++;
            return dd_asprintf("%.*s", (int)strcspn(reason, "\n"), reason);
        }
        line = end ? end + 1 : line + strlen(line);
    }
    return NULL;
}

static bool in_queue(const text *queue, const char *id)
{
    dd_task_state s = queue_state(queue, id);
    return s == DD_TASK_PENDING || s == DD_TASK_RUNNING;
}

/* The exit status the decide stage wrote, or -1. */
static int decide_status(const char *slurm_dir)
{
    char *path = path_join(slurm_dir, "decide.status");
    char *s = read_file(path);
    free(path);
    int st = -1;
    if (s && *s >= '0' && *s <= '9')
        st = atoi(s);
    free(s);
    return st;
}

/* ---- Submitting -------------------------------------------------------- */

/* Runs sbatch with the executor's options, then the user's, then the
 * script; the job id in id. */
static bool sbatch(const dd_slurm_plan *p, char **own, size_t nown, const char *script, char id[32],
                   char **err)
{
    size_t n = 0;
    char **argv = dd_calloc(4 + nown + p->nsbatch_options, sizeof *argv);
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    for (size_t i = 0; i < nown; i++)
        argv[n++] = own[i];
    for (size_t i = 0; i < p->nsbatch_options; i++)
        argv[n++] = p->sbatch_options[i];
    argv[n++] = (char *)script;
    argv[n] = NULL;
    text out = {0}, errout = {0};
    int st = run_program(argv, &out, &errout);
    free(argv);
    bool ok = st == 0 && out.s;
    if (ok) {
        /* "JOBID" or "JOBID;CLUSTER" */
        size_t len = strspn(out.s, "0123456789");
        ok = len > 0 && len < 32;
        if (ok) {
            memcpy(id, out.s, len);
            id[len] = '\0';
        } else {
            *err = dd_asprintf("sbatch printed no job id: %s", out.s);
        }
    } else {
        *err = program_error("sbatch", st, &errout);
    }
    free(out.s);
    free(errout.s);
    return ok;
}

/* Appends a line to the jobs file (opened for appending: one write). */
static bool jobs_append(const char *slurm_dir, const char *line, char **err)
{
    char *path = path_join(slurm_dir, "jobs");
    FILE *f = fopen(path, "a");
    bool ok = f && fputs(line, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        *err = dd_asprintf("cannot write %s: %s", path, strerror(errno));
    free(path);
    return ok;
}

/* Cancels the jobs ids[0..n) (scancel). */
static bool cancel_jobs(char **ids, size_t n, char **err)
{
    char **argv = dd_calloc(n + 2, sizeof *argv);
    argv[0] = "scancel";
    memcpy(argv + 1, ids, n * sizeof *ids);
    text o = {0}, e = {0};
    int st = run_program(argv, &o, &e);
    if (st != 0)
        *err = program_error("scancel", st, &e);
    free(o.s);
    free(e.s);
    free(argv);
    return st == 0;
}

/* Appends ":id" to the dependency list. */
static void depend_on(text *depend, const char *id)
{
    text_addf(depend, ":");
    text_addf(depend, id);
}

/* Submits the tasks of stage s that are neither done nor queued (all not
 * done when restart: a stage before submitted tasks again, so that those
 * queued wait for one that failed; they are cancelled first) as one array
 * after the jobs of depend (waits of them); then adds to depend the array
 * and the tasks left queued. */
static bool submit_stage(const dd_slurm_plan *p, int s, const job_record *rec, const text *queue,
                         const char *slurm_dir, bool restart, text *depend, size_t *waits,
                         dd_slurm_submitted *out, char **err)
{
    const char *stage = dd_slurm_stage_name(s);
    text tasks = {0}, queued = {0};
    char **cancel = dd_calloc(p->tasks, sizeof *cancel);
    size_t ncancel = 0, nqueued = 0;
    char *script = NULL, *script_path = NULL;
    bool ok = true;
    for (unsigned long i = 0; i < p->tasks; i++) {
        if (p->task_done[s][i])
            continue;
        const char *job = rec ? rec->job[s][i] : NULL;
        if (job && in_queue(queue, job)) {
            if (!restart) {
                depend_on(&queued, job);
                nqueued++;
                continue;
            }
            cancel[ncancel++] = (char *)job;
        }
        char num[32];
        snprintf(num, sizeof num, "%s%lu", tasks.n ? "," : "", i);
        text_addf(&tasks, num);
        out->nsubmitted[s]++;
    }
    out->nqueued[s] = nqueued;
    if (ncancel && !(ok = cancel_jobs(cancel, ncancel, err)))
        goto done;
    out->ncancelled[s] = ncancel;
    if (out->nsubmitted[s]) {
        char *name = dd_asprintf("%s.sh", stage);
        script_path = path_join(slurm_dir, name);
        free(name);
        script = task_script(p, stage);
        if (!(ok = write_file(script_path, script, strlen(script), 0755, err)))
            goto done;
        char *array = dd_asprintf("--array=%s", tasks.s);
        char *job_name = dd_asprintf("--job-name=dedup-%s", stage);
        char *log = dd_asprintf("--output=%s/logs/%s-%%a.%%A.log", slurm_dir, stage);
        char *own[] = {array, job_name, log, "--chdir", (char *)p->cwd, depend->s};
        size_t nown = sizeof own / sizeof own[0] - (*waits ? 0 : 1);
        ok = sbatch(p, own, nown, script_path, out->array_job[s], err);
        free(array);
        free(job_name);
        free(log);
        if (!ok)
            goto done;
        char *line = dd_asprintf("%s %s %lu %s\n", stage, out->array_job[s], p->tasks, tasks.s);
        ok = jobs_append(slurm_dir, line, err);
        free(line);
        if (!ok)
            goto done;
        depend_on(depend, out->array_job[s]);
        ++*waits;
    }
    if (nqueued) {
        text_addf(depend, queued.s);
        *waits += nqueued;
    }
done:
    free(tasks.s);
    free(queued.s);
    free(cancel);
    free(script);
    free(script_path);
    return ok;
}

bool dd_slurm_submit(const dd_slurm_plan *p, dd_slurm_submitted *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    char *slurm_dir = path_join(p->work_dir, "slurm");
    char *logs = path_join(slurm_dir, "logs");
    char *decide_path = path_join(slurm_dir, "decide.sh");
    char *decide_sh = NULL;
    text queue = {0}, depend = {0};
    job_record rec;
    bool have_rec = false, ok = make_dir(slurm_dir, err) && make_dir(logs, err);
    if (!ok)
        goto done;
    have_rec = job_record_read(slurm_dir, &rec);
    if (have_rec && rec.tasks != p->tasks)
        job_record_free(&rec), have_rec = false; /* other --tasks: start afresh */
    if (!(ok = queue_read(&queue, err)))
        goto done;

    /* Each stage after the jobs of those before it: the arrays submitted
     * and the tasks still queued. Once a stage submits tasks, those of the
     * later stages still queued wait for one that failed: submitted again. */
    text_addf(&depend, "--dependency=afterok");
    size_t waits = 0;
    bool submitted = false;
    for (int s = 0; s < DD_SLURM_ARRAYS; s++) {
        if (!(ok = submit_stage(p, s, have_rec ? &rec : NULL, &queue, slurm_dir, submitted, &depend,
                                &waits, out, err)))
            goto done;
        submitted = submitted || out->nsubmitted[s];
    }

    /* The decide stage, unless it has ended well. */
    int decided = decide_status(slurm_dir);
    if ((decided == 0 || decided == 1) && waits == 0) {
        out->all_done = !submitted;
        goto done;
    }
    if (decided >= 0) { /* failed, or decided before tasks that run again */
        char *path = path_join(slurm_dir, "decide.status");
        unlink(path);
        free(path);
    }
    const char *old = have_rec ? rec.decide_job : NULL;
    if (old && in_queue(&queue, old)) {
        if (!submitted) { /* it waits for what is queued: keep it */
            snprintf(out->decide_queued, sizeof out->decide_queued, "%s", old);
            goto done;
        }
        char *ids[] = {(char *)old};
        if (!(ok = cancel_jobs(ids, 1, err)))
            goto done;
        snprintf(out->cancelled, sizeof out->cancelled, "%s", old);
    }
    decide_sh = decide_script(p, slurm_dir);
    if (!(ok = write_file(decide_path, decide_sh, strlen(decide_sh), 0755, err)))
        goto done;
    char *log = dd_asprintf("--output=%s/decide.%%j.log", logs);
    char *own[] = {"--job-name=dedup-decide", log, "--chdir", (char *)p->cwd, depend.s};
    ok = sbatch(p, own, waits ? 5 : 4, decide_path, out->decide_job, err);
    free(log);
    if (ok) {
        char *line = dd_asprintf("decide %s %lu\n", out->decide_job, p->tasks);
        ok = jobs_append(slurm_dir, line, err);
        free(line);
    }
done:
    if (have_rec)
        job_record_free(&rec);
    free(queue.s);
    free(depend.s);
    free(decide_sh);
    free(decide_path);
    free(logs);
    free(slurm_dir);
    return ok;
}

/* ---- Status ------------------------------------------------------------ */

const char *dd_task_state_name(dd_task_state s)
{
    switch (s) {
    case DD_TASK_MISSING:
        return "not submitted";
    case DD_TASK_PENDING:
        return "pending";
    case DD_TASK_RUNNING:
        return "running";
    case DD_TASK_DONE:
        return "done";
    case DD_TASK_FAILED:
        return "failed";
    }
    return "?";
}

/* The log of task I of stage's job "ARRAY_I": logs/STAGE-I.ARRAY.log. */
static char *task_log_path(const char *slurm_dir, const char *stage, const char *job,
                           unsigned long task)
{
    size_t len = strcspn(job, "_");
    return dd_asprintf("%s/logs/%s-%lu.%.*s.log", slurm_dir, stage, task, (int)len, job);
}

bool dd_slurm_status_read(const char *work_dir,
                          bool (*task_done)(void *ctx, const char *stage, unsigned long task,
                                            unsigned long tasks),
                          void *ctx, dd_slurm_status *st, char **err)
{
    memset(st, 0, sizeof *st);
    st->decide_exit = -1;
    *err = NULL;
    char *slurm_dir = path_join(work_dir, "slurm");
    job_record rec;
    if (!job_record_read(slurm_dir, &rec) || rec.tasks == 0) {
        *err = dd_asprintf("%s: no job was submitted to Slurm for this work folder (no %s/jobs)",
                           work_dir, slurm_dir);
        free(slurm_dir);
        return false;
    }
    text queue = {0};
    if (!queue_read(&queue, err)) {
        job_record_free(&rec);
        free(slurm_dir);
        return false;
    }
    st->tasks = rec.tasks;
    for (int s = 0; s < DD_SLURM_ARRAYS; s++) {
        const char *stage = dd_slurm_stage_name(s);
        dd_slurm_stage_status *ss = &st->stage[s];
        ss->state = dd_calloc(rec.tasks, sizeof *ss->state);
        ss->log = dd_calloc(rec.tasks, sizeof *ss->log);
        for (unsigned long i = 0; i < rec.tasks; i++) {
            const char *job = rec.job[s][i];
            if (job)
                ss->log[i] = task_log_path(slurm_dir, stage, job, i);
            if (task_done(ctx, stage, i, rec.tasks))
                ss->state[i] = DD_TASK_DONE;
            else if (!job)
                ss->state[i] = DD_TASK_MISSING;
            else if (in_queue(&queue, job))
                ss->state[i] = queue_state(&queue, job);
            else
                ss->state[i] = DD_TASK_FAILED;
            if (ss->state[i] == DD_TASK_PENDING && !ss->reason)
                ss->reason = queue_reason(&queue, job);
        }
    }
    st->decide_exit = decide_status(slurm_dir);
    if (rec.decide_job)
        st->decide_log = dd_asprintf("%s/logs/decide.%s.log", slurm_dir, rec.decide_job);
    if (st->decide_exit == 0 || st->decide_exit == 1) {
        st->decide = DD_TASK_DONE;
        st->decide_out = path_join(slurm_dir, "decide.out");
    } else if (!rec.decide_job) {
        st->decide = DD_TASK_MISSING;
    } else if (in_queue(&queue, rec.decide_job)) {
        st->decide = queue_state(&queue, rec.decide_job);
        if (st->decide == DD_TASK_PENDING)
            st->decide_reason = queue_reason(&queue, rec.decide_job);
    } else {
        st->decide = DD_TASK_FAILED;
    }
    free(queue.s);
    job_record_free(&rec);
    free(slurm_dir);
    return true;
}

void dd_slurm_status_free(dd_slurm_status *st)
{
    for (int s = 0; s < DD_SLURM_ARRAYS; s++) {
        dd_slurm_stage_status *ss = &st->stage[s];
        for (unsigned long i = 0; ss->log && i < st->tasks; i++)
            free(ss->log[i]);
        free(ss->log);
        free(ss->state);
        free(ss->reason);
    }
    free(st->decide_log);
    free(st->decide_out);
    free(st->decide_reason);
    memset(st, 0, sizeof *st);
}
