/*
 * run.c - the ordered parallel map (run.h): one window for both of its
 * forms, items known up front (dd_run_in_order) and items read from a
 * stream (dd_run_stream), and the pool of loops (dd_pool).
 *
 * The map: the calling thread consumes the results that are ready, in
 * order, a run of them at a time, then fills the window with items
 * (produce: a stream's next record; with items known up front, just the
 * next number), then sleeps until the next results in a row, half a
 * window of them, are ready (wait_from..wait_until); it alone counts what
 * is in flight (next_produce, next_consume, the weights) and publishes
 * what it produced (produced), a batch at a time. Workers claim published
 * items in order, a run at a time (up to a batch, at most their share of
 * what waits: next_claim < produced), work on them outside the lock and
 * mark their slots done together, waking the consumer only when what it
 * waits for is all done. So neither side takes the lock, nor wakes the
 * other, for every item (a wake-up costs more than a small record's
 * analysis): on 16,000 news articles at -j 2, some 4,000 futex calls
 * instead of 20,000. A loop that consume runs on the workers
 * (dd_run_loop) is published under the lock too, and workers take its
 * items before the map's, a part of what is left at a time (loop_claim),
 * as in the pool's loops; the calling thread takes what is left when it
 * joins the loop, at once (dd_run_loop) or after work of its own
 * (dd_run_loop_start, dd_run_loop_join). One mutex guards produced, next_claim, the done
 * marks, the wait, the loop and stop; `ready` wakes the workers (items, a
 * loop, or the stop), `done` the consumer, and `loop_finished` the
 * consumer when the last item of a loop has run. Threads are woken once
 * the lock is free (they would only wait for it). A stream whose calling
 * thread is one of its threads (caller_works) has one worker fewer; where
 * the calling thread would sleep (wait_for, dd_run_loop_join) it claims
 * and works on the next unclaimed item instead (work_here), and sleeps
 * only when none is left; workers claim one item at a time then, and the
 * consumer waits for the next result only.
 */
#include "run/run.h"

#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned dd_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

void dd_run_lock_init(pthread_mutex_t *lock)
{
#ifdef __GLIBC__
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(lock, &a);
    pthread_mutexattr_destroy(&a);
#else
    pthread_mutex_init(lock, NULL);
#endif
}

/* Whether DEDUP_RUN_STATS asks for the figures: read once, for every run
 * and pool of the process. */
static bool measuring;
static pthread_once_t measuring_once = PTHREAD_ONCE_INIT;

static void read_measuring(void) { measuring = getenv("DEDUP_RUN_STATS") != NULL; }

static bool stats_wanted(void)
{
    pthread_once(&measuring_once, read_measuring);
    return measuring;
}

/* Seconds of CPU time of the calling thread, when the figures are asked
 * for (else 0: the clock of a thread is a system call, and the calling
 * thread would ask for it four times a record), or of the clock. */
static double thread_cpu(void)
{
    if (!stats_wanted())
        return 0;
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The process's CPU time so far, user and system apart, the page faults
 * that needed no disk (first touches of memory, mostly), and its I/O of
 * /proc/self/io: bytes asked of read and write calls (rchar, wchar: the
 * page cache's or the disk's) and bytes the storage read and was to write
 * for it (read_bytes, write_bytes: what missed the page cache; 0 where the
 * file is missing). */
typedef struct process_usage {
    double user, system;
    long minor_faults;
    unsigned long long rchar, wchar, read_bytes, write_bytes;
} process_usage;

/* Fills the four I/O counters of *u from /proc/self/io, when it can. */
static void read_process_io(process_usage *u)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return;
    char key[32];
    unsigned long long value;
    while (fscanf(f, "%31[^:]: %llu ", key, &value) == 2) {
        if (!strcmp(key, "rchar"))
            u->rchar = value;
        else if (!strcmp(key, "wchar"))
            u->wchar = value;
        else if (!strcmp(key, "read_bytes"))
            u->read_bytes = value;
        else if (!strcmp(key, "write_bytes"))
            u->write_bytes = value;
    }
    fclose(f);
}

static process_usage process_usage_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    process_usage p = {
        .user = (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6,
        .system = (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6,
        .minor_faults = u.ru_minflt,
    };
    read_process_io(&p);
    return p;
}

void dd_run_phase_done(const char *name)
{
    static double last_wall = -1;
    static process_usage last;
    if (!getenv("DEDUP_RUN_STATS") && !getenv("DEDUP_RUN_PHASES"))
        return;
    double now = dd_monotonic_seconds();
    process_usage u = process_usage_now();
    double cpu = u.user + u.system - last.user - last.system;
    if (last_wall < 0) /* the first phase: its wall time is not known */
        fprintf(stderr, "dedup: phase %s: %.3f s CPU", name, cpu);
    else
        fprintf(stderr, "dedup: phase %s: %.3f s, %.3f s CPU", name, now - last_wall, cpu);
    fprintf(stderr, " (%.3f s system), %ld page faults", u.system - last.system,
            u.minor_faults - last.minor_faults);
    const double mb = 1024.0 * 1024.0;
    fprintf(stderr, ", read %.1f MB (%.1f MB from storage), wrote %.1f MB (%.1f MB to storage)\n",
            (double)(u.rchar - last.rchar) / mb, (double)(u.read_bytes - last.read_bytes) / mb,
            (double)(u.wchar - last.wchar) / mb, (double)(u.write_bytes - last.write_bytes) / mb);
    last_wall = now;
    last = u;
}

/* A map of either form (run.h): produce is NULL for items known up front,
 * items 0..n-1, each of weight(ctx, i). */
typedef struct map {
    size_t n;
    uint64_t (*weight)(void *ctx, size_t i);
    bool (*produce)(void *ctx, size_t i, void *slot, uint64_t *weight);
    unsigned threads;
    bool caller_works; /* the calling thread is one of threads (run.h) */
    size_t window;
    uint64_t max_weight;
    void *ctx;
    size_t slot_size;
    void *(*worker_new)(void *ctx);
    void (*worker_free)(void *ctx, void *worker);
    void (*work)(void *ctx, void *worker, size_t i, void *slot);
    bool (*consume)(void *ctx, size_t i, void *slot);
    void (*slot_free)(void *ctx, void *slot);
} map;

typedef struct slot_state {
    bool done;       /* worked on, waiting to be consumed */
    uint64_t weight; /* of the item in it */
} slot_state;

typedef struct run {
    const map *m;
    char *slots;       /* window slots of slot_size bytes */
    slot_state *state; /* window of them */
    pthread_mutex_t lock;
    pthread_cond_t ready; /* an item was produced, a loop published, or the run stops */
    pthread_cond_t done;  /* a slot was marked done */
    size_t next_produce;  /* the next item to read (the calling thread's) */
    size_t produced;      /* items 0..produced-1 may be claimed (published) */
    size_t next_claim;    /* the next item a worker takes */
    size_t next_consume;  /* the next item the consumer takes */
    uint64_t weight_in_flight;
    size_t wait_from, wait_until; /* the consumer sleeps until these are done */
    size_t batch;                 /* of a worker's wake-up and of its claim (see with_workers) */
    size_t wait_run;              /* results in a row the consumer sleeps for: half the window */
    unsigned idle;                /* workers asleep, waiting for items */
    unsigned workers;             /* worker threads started */
    bool ended;                   /* produce found no more items */
    bool stop;
    /* A loop that consume runs on the workers (dd_run_loop): its items
     * come before the map's. */
    size_t loop_n, loop_next, loop_done;
    void *loop_ctx;
    void (*loop_work)(void *ctx, void *worker, size_t i);
    pthread_cond_t loop_finished;
    bool loop_pending; /* started (dd_run_loop_start), not joined yet */
    /* A loop's items are left to claim: read without the lock by a worker
     * between the items of its claim (see worker_main). */
    atomic_bool loop_open;
    bool consuming; /* the calling thread is in consume */
    void *own; /* the calling thread's worker state, for loops */
    bool own_made;
    /* For DEDUP_RUN_STATS: CPU seconds of produce, of work (all workers,
     * and the calling thread's part of loops) and of consume, and the
     * seconds the consumer waited for results (thread_cpu: 0 without it). */
    double produce_cpu, work_cpu, consume_cpu, consumer_wait;
    double loop_wait;    /* of consumer_wait: for the items of loops that workers took */
    double workers_idle; /* seconds the workers waited for items, all of them */
    size_t loops, loop_items, loop_items_here; /* and those the calling thread ran */
    size_t items_here; /* the map's items the calling thread worked on (caller_works) */
} run;

/* The run whose consume is running on this thread (for dd_run_loop). */
static _Thread_local run *running;

static dd_run_result *slot_of(const run *p, size_t i)
{
    return (dd_run_result *)(p->slots + (i % p->m->window) * p->m->slot_size);
}

static uint64_t weight_of(const map *m, size_t i) { return m->weight ? m->weight(m->ctx, i) : 0; }

/* Whether the window has room for item next_produce (run.h: at most
 * `window` items in flight, and their weights bounded by max_weight, but
 * for one item when none is in flight). A stream's record weighs what it
 * was found to weigh once read; an item known up front, what it will. */
static bool has_room(const run *p)
{
    const map *m = p->m;
    size_t in_flight = p->next_produce - p->next_consume;
    if (in_flight == 0)
        return true;
    if (in_flight == m->window)
        return false;
    if (m->produce)
        return p->weight_in_flight < m->max_weight;
    return p->next_produce >= m->n ||
           p->weight_in_flight + weight_of(m, p->next_produce) <= m->max_weight;
}

/* Puts item i into its slot (on the calling thread), capturing the
 * messages produce writes; false when there is no item i. */
static bool produce(run *p, size_t i)
{
    const map *m = p->m;
    double cpu0 = thread_cpu();
    dd_run_result *r = slot_of(p, i);
    r->messages.len = 0;
    if (r->messages.data)
        r->messages.data[0] = '\0';
    uint64_t weight = 0;
    bool got;
    if (m->produce) {
        dd_messages_capture(&r->messages);
        got = m->produce(m->ctx, i, r, &weight);
        dd_messages_capture(NULL);
    } else {
        got = i < m->n;
        weight = got ? weight_of(m, i) : 0;
    }
    p->produce_cpu += thread_cpu() - cpu0;
    if (!got)
        return false;
    p->state[i % m->window].weight = weight;
    p->weight_in_flight += weight;
    p->next_produce = i + 1;
    return true;
}

/* Lets the workers claim the items produced so far (the lock held).
 * Returns how many workers asleep to wake (wake_workers, once the lock is
 * free): one for each batch of items unclaimed, not one for each item. */
static size_t publish(run *p)
{
    p->produced = p->next_produce;
    size_t wake = (p->produced - p->next_claim) / p->batch;
    return wake < p->idle ? wake : p->idle;
}

/* Wakes n workers asleep, the lock free: woken with it held, they would
 * only wait for it. */
static void wake_workers(run *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        pthread_cond_signal(&p->ready);
}

/* Produces items while the window has room (with workers), publishing them
 * a batch at a time: the calling thread publishes what is left whenever it
 * takes the lock (with_workers, wait_for). Sets p->ended when there are
 * no more items. */
static void fill(run *p)
{
    while (!p->ended && has_room(p)) {
        p->ended = !produce(p, p->next_produce);
        if (p->next_produce - p->produced >= p->batch) {
            pthread_mutex_lock(&p->lock);
            size_t wake = publish(p);
            pthread_mutex_unlock(&p->lock);
            wake_workers(p, wake);
        }
    }
}

/* Whether what the consumer waits for is all done (the lock held). */
static bool wait_over(const run *p)
{
    for (size_t i = p->wait_from; i < p->wait_until; i++)
        if (!p->state[i % p->m->window].done)
            return false;
    return true;
}

/* Runs work for item i, adding its messages to those of produce. */
static void work_on(const run *p, void *worker, size_t i)
{
    dd_run_result *r = slot_of(p, i);
    dd_messages_capture(&r->messages);
    p->m->work(p->m->ctx, worker, i, r);
    dd_messages_capture(NULL);
}

/* Prints what producing and working on item i wrote, then consumes it. */
static bool consume(run *p, size_t i)
{
    double cpu0 = thread_cpu();
    dd_run_result *r = slot_of(p, i);
    dd_messages_print(&r->messages);
    p->consuming = true;
    bool ok = p->m->consume(p->m->ctx, i, r);
    p->consuming = false;
    p->weight_in_flight -= p->state[i % p->m->window].weight;
    p->consume_cpu += thread_cpu() - cpu0;
    return ok;
}

/* How many of `left` independent items (a loop's) a thread claims at once,
 * `threads` threads sharing them: a part of what is left, so that the
 * first claims are long (few round trips through the lock) and the last
 * short (no thread is left with a long run while the others wait). */
static size_t loop_claim(size_t left, unsigned threads)
{
    size_t n = left / (2 * (size_t)threads);
    return n < 1 ? 1 : n;
}

/* How many of the map's items a worker claims at once: its share of those
 * produced and not claimed, at most a batch, at least one (the lock held).
 * A claim's results are marked done together: the consumer, which waits
 * for several in a row, is woken once for them. */
static size_t map_claim(const run *p)
{
    if (p->m->caller_works)
        return 1; /* its result may be what the calling thread waits for */
    size_t share = (p->produced - p->next_claim) / p->workers;
    return share < 1 ? 1 : share > p->batch ? p->batch : share;
}

/* Claims and runs the items of the loop that are left, a part at a time
 * (the lock held, as on return); the last one done wakes the calling
 * thread, which may be waiting in dd_run_loop_join. */
static void take_loop_items(run *p, void *worker)
{
    while (p->loop_next < p->loop_n) {
        size_t first = p->loop_next, n = loop_claim(p->loop_n - first, p->workers + 1);
        p->loop_next += n;
        if (p->loop_next == p->loop_n)
            atomic_store_explicit(&p->loop_open, false, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = first; i < first + n; i++)
            p->loop_work(p->loop_ctx, worker, i);
        pthread_mutex_lock(&p->lock);
        p->loop_done += n;
        if (p->loop_done == p->loop_n) { /* woken with the lock free */
            pthread_mutex_unlock(&p->lock);
            pthread_cond_signal(&p->loop_finished);
            pthread_mutex_lock(&p->lock);
        }
    }
}

/* A worker: a loop's items first, then the map's, a claim at a time. A
 * loop published while it works on a claim is taken between two of its
 * items (a record's analysis is longer than a loop's item, and the
 * calling thread, which published the loop to go on with work of its
 * own, would otherwise run most of its items itself). */
static void *worker_main(void *arg)
{
    run *p = arg;
    const map *m = p->m;
    double cpu0 = thread_cpu();
    void *worker = m->worker_new ? m->worker_new(m->ctx) : NULL;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->loop_next >= p->loop_n && p->next_claim == p->produced) {
            p->idle++;
            double waited = dd_monotonic_seconds();
            pthread_cond_wait(&p->ready, &p->lock);
            p->workers_idle += dd_monotonic_seconds() - waited;
            p->idle--;
        }
        if (p->loop_next < p->loop_n) {
            take_loop_items(p, worker); /* the calling thread works in a loop too */
            continue;
        }
        if (p->stop)
            break;
        size_t first = p->next_claim, n = map_claim(p);
        p->next_claim += n;
        pthread_mutex_unlock(&p->lock);
        for (size_t i = first; i < first + n; i++) {
            work_on(p, worker, i);
            if (i + 1 < first + n && atomic_load_explicit(&p->loop_open, memory_order_relaxed)) {
                pthread_mutex_lock(&p->lock);
                take_loop_items(p, worker);
                pthread_mutex_unlock(&p->lock);
            }
        }
        pthread_mutex_lock(&p->lock);
        for (size_t i = first; i < first + n; i++)
            p->state[i % m->window].done = true;
        if (p->wait_until > p->wait_from && wait_over(p)) { /* woken with the lock free */
            p->wait_from = p->wait_until = 0;
            pthread_mutex_unlock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (m->worker_free)
        m->worker_free(m->ctx, worker);
    double cpu = thread_cpu() - cpu0;
    pthread_mutex_lock(&p->lock);
    p->work_cpu += cpu;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The calling thread's worker state, made when first needed. */
static void *own_worker(run *p)
{
    if (!p->own_made) {
        p->own = p->m->worker_new ? p->m->worker_new(p->m->ctx) : NULL;
        p->own_made = true;
    }
    return p->own;
}

/* One thread: produce, work and consume alternate on the calling thread.
 * Sets p->ended when there are no more items. */
static bool here(run *p)
{
    void *worker = own_worker(p); /* loops run with it too */
    bool ok = true;
    for (size_t i = 0; ok; i++) {
        if (!produce(p, i)) {
            p->ended = true;
            break;
        }
        double cpu0 = thread_cpu();
        work_on(p, worker, i);
        p->work_cpu += thread_cpu() - cpu0;
        ok = consume(p, i);
        p->next_consume = i + 1;
    }
    return ok;
}

/* With the calling thread one of the threads (caller_works): instead of
 * sleeping for results, it works on the next item no worker claimed, one
 * at a time (the lock held, as on return; so that it is back to its own
 * work as soon as what it waits for is done). Returns the wall seconds it
 * took; its CPU counts as work, not consume. */
static double work_here(run *p)
{
    size_t i = p->next_claim++;
    pthread_mutex_unlock(&p->lock);
    double start = dd_monotonic_seconds(), cpu0 = thread_cpu();
    work_on(p, own_worker(p), i);
    double cpu = thread_cpu() - cpu0, took = dd_monotonic_seconds() - start;
    pthread_mutex_lock(&p->lock);
    p->state[i % p->m->window].done = true;
    p->work_cpu += cpu;
    if (p->consuming)
        p->consume_cpu -= cpu;
    p->items_here++;
    return took;
}

/* Sleeps until items from..until-1 are done (the lock held), having
 * published what was produced and woken the workers asleep if some items
 * are unclaimed (even fewer than a batch). */
static void wait_for(run *p, size_t from, size_t until)
{
    double waited = dd_monotonic_seconds(), worked = 0;
    publish(p);
    if (p->idle && p->next_claim < p->produced)
        pthread_cond_broadcast(&p->ready);
    p->wait_from = from;
    p->wait_until = until;
    while (!wait_over(p)) { /* the worker that finds it over clears the range */
        if (p->m->caller_works && p->next_claim < p->produced) {
            worked += work_here(p);
            continue;
        }
        pthread_cond_wait(&p->done, &p->lock);
    }
    p->wait_from = p->wait_until = 0;
    p->consumer_wait += dd_monotonic_seconds() - waited - worked;
}

/* How many items from next_consume on are done, in a row (the lock held). */
static size_t done_in_a_row(const run *p)
{
    size_t n = 0, in_flight = p->next_produce - p->next_consume;
    while (n < in_flight && p->state[(p->next_consume + n) % p->m->window].done)
        n++;
    return n;
}

/* With workers: the calling thread keeps the window full (fill, after each
 * consume) and consumes the results that are ready, in a row, learnt
 * under one lock; when the next is not ready, it sleeps until the next
 * results are: `wait_run` of them in a row (half the window: the workers
 * have the other half to go on with meanwhile), or all that are in flight
 * when fewer. A worker claims up to a batch of items at once (map_claim:
 * an eighth of the window, at most 16) and marks them done together; with
 * nothing to claim it sleeps until a batch waits for it, or the calling
 * thread is about to sleep with items unclaimed. Sets p->ended when there
 * are no more items.
 *
 * A done mark is cleared by the consumer, without the lock, just before
 * its item is consumed: no worker writes a slot's mark again before its
 * next item is produced, which is after this one is consumed; and the
 * marks of the items after it stay set, for dd_run_stream_ahead. */
static bool with_workers(run *p)
{
    const map *m = p->m;
    bool ok = true;
    while (ok) {
        fill(p);
        size_t in_flight = p->next_produce - p->next_consume;
        if (in_flight == 0)
            break; /* no more items, and everything was consumed */
        pthread_mutex_lock(&p->lock);
        size_t wake = publish(p), ready = done_in_a_row(p);
        if (ready == 0) {
            wait_for(p, p->next_consume,
                     p->next_consume + (in_flight < p->wait_run ? in_flight : p->wait_run));
            ready = done_in_a_row(p);
            wake = 0; /* wait_for woke them */
        }
        pthread_mutex_unlock(&p->lock);
        wake_workers(p, wake);
        for (size_t k = 0; k < ready && ok; k++) {
            size_t i = p->next_consume;
            p->state[i % m->window].done = false;
            ok = consume(p, i);
            p->next_consume = i + 1;
            if (ok)
                fill(p); /* the workers go on while the run is consumed */
        }
    }
    return ok;
}

void dd_run_loop_start(size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i))
{
    run *p = running;
    dd_run_loop_join(); /* one loop at a time */
    own_worker(p);
    pthread_mutex_lock(&p->lock);
    p->loop_n = n;
    p->loop_next = p->loop_done = 0;
    p->loop_ctx = ctx;
    p->loop_work = work;
    p->loop_pending = true;
    atomic_store_explicit(&p->loop_open, n > 0, memory_order_relaxed);
    bool wake = p->idle > 0;
    pthread_mutex_unlock(&p->lock);
    if (wake) /* with the lock free */
        pthread_cond_broadcast(&p->ready);
}

void dd_run_loop_join(void)
{
    run *p = running;
    if (!p->loop_pending)
        return;
    double cpu0 = thread_cpu();
    void *own = own_worker(p);
    pthread_mutex_lock(&p->lock);
    size_t n = p->loop_n;
    void *ctx = p->loop_ctx;
    void (*work)(void *ctx, void *worker, size_t i) = p->loop_work;
    while (p->loop_next < n) {
        size_t first = p->loop_next, k = loop_claim(n - first, p->workers + 1);
        p->loop_next += k;
        if (p->loop_next == n)
            atomic_store_explicit(&p->loop_open, false, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = first; i < first + k; i++)
            work(ctx, own, i);
        pthread_mutex_lock(&p->lock);
        p->loop_done += k;
        p->loop_items_here += k;
    }
    p->loops++;
    p->loop_items += n;
    double cpu = thread_cpu() - cpu0, waited = dd_monotonic_seconds(), worked = 0;
    while (p->loop_done < n) {
        /* the items the workers took are not done: the map's next ones */
        if (p->m->caller_works && p->next_claim < p->produced) {
            worked += work_here(p);
            continue;
        }
        pthread_cond_wait(&p->loop_finished, &p->lock);
    }
    p->loop_n = p->loop_next = p->loop_done = 0;
    p->loop_pending = false;
    pthread_mutex_unlock(&p->lock);
    /* Work, not consume: the parallel part of the run. */
    p->work_cpu += cpu;
    if (p->consuming)
        p->consume_cpu -= cpu;
    if (p->workers) {
        double w = dd_monotonic_seconds() - waited - worked;
        p->consumer_wait += w;
        p->loop_wait += w;
    }
}

void dd_run_loop(size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i))
{
    dd_run_loop_start(n, ctx, work);
    dd_run_loop_join();
}

/* Items i + from .. of a stream map (see dd_run_stream_ahead_from), i the
 * item being consumed; from >= 1, or from 0 with item i itself not waited
 * for (it is being consumed: its done mark is cleared). */
static size_t stream_ahead(run *p, size_t from, size_t max, void **slots)
{
    size_t i = p->next_consume;
    fill(p);
    size_t first = i + from, n = 0;
    if (p->next_produce > first)
        n = p->next_produce - first < max ? p->next_produce - first : max;
    size_t wait_first = from ? first : first + 1;
    if (first + n > wait_first) {
        pthread_mutex_lock(&p->lock);
        wait_for(p, wait_first, first + n);
        pthread_mutex_unlock(&p->lock);
    }
    for (size_t k = 0; k < n; k++)
        slots[k] = slot_of(p, first + k);
    return n;
}

size_t dd_run_stream_ahead(size_t max, void **slots)
{
    run *p = running;
    if (max <= 1 || p->workers == 0 || !p->m->produce) {
        slots[0] = slot_of(p, p->next_consume);
        return 1;
    }
    return stream_ahead(p, 0, max, slots);
}

size_t dd_run_stream_ahead_from(size_t from, size_t max, void **slots)
{
    run *p = running;
    if (max == 0 || p->workers == 0 || !p->m->produce)
        return 0;
    return stream_ahead(p, from, max, slots);
}

static bool run_map(const map *m)
{
    run p = {.m = m};
    p.batch = m->window / 8 < 1 ? 1 : m->window / 8 > 16 ? 16 : m->window / 8;
    p.wait_run = m->window / 2 < 1 || m->caller_works ? 1 : m->window / 2;
    /* Zeros written (slots and marks are read before written: see
     * dd_zalloc_touched). */
    p.slots = dd_zalloc_touched(m->window, m->slot_size);
    p.state = dd_zalloc_touched(m->window, sizeof *p.state);
    dd_run_lock_init(&p.lock);
    pthread_cond_init(&p.ready, NULL);
    pthread_cond_init(&p.done, NULL);
    pthread_cond_init(&p.loop_finished, NULL);
    atomic_init(&p.loop_open, false);
    run *outer = running;
    running = &p;

    /* Items known up front: no thread for a single one. */
    unsigned want = m->threads > 1 && (m->produce || m->n > 1) ? m->threads - m->caller_works : 0,
             started = 0;
    double start = dd_monotonic_seconds(), here_cpu0 = thread_cpu();
    pthread_t *threads = dd_calloc(want ? want : 1, sizeof *threads);
    for (; started < want; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &p) != 0)
            break;

    p.workers = started;
    bool ok = started == 0 ? here(&p) : with_workers(&p);
    dd_run_loop_join(); /* a loop that consume left pending */
    pthread_mutex_lock(&p.lock);
    p.stop = true;
    pthread_cond_broadcast(&p.ready);
    pthread_mutex_unlock(&p.lock);
    for (unsigned t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    if (p.own_made && m->worker_free)
        m->worker_free(m->ctx, p.own);
    running = outer;
    /* What the produce that found no item wrote, after the last item's. */
    if (ok && p.ended)
        dd_messages_print(&slot_of(&p, p.next_produce)->messages);
    if (stats_wanted()) {
        char read[64] = "", here[96] = ""; /* a stream's reading; the calling thread's items */
        if (m->caller_works && started)
            snprintf(here, sizeof here, "; the calling thread worked on %zu items", p.items_here);
        if (m->produce)
            snprintf(read, sizeof read, "read %.3f s CPU, ", p.produce_cpu);
        fprintf(stderr,
                "dedup: run: %zu items, %u threads: %.3f s; %swork %.3f s CPU, consume %.3f s "
                "CPU, consumer waited %.3f s, workers waited %.3f s%s\n",
                p.next_produce, started, dd_monotonic_seconds() - start, read, p.work_cpu,
                p.consume_cpu, p.consumer_wait, p.workers_idle, here);
        if (p.loops)
            fprintf(stderr,
                    "dedup: loops of consume: %zu, %zu items, %zu of them on the calling "
                    "thread, which waited %.3f s for the others; the calling thread %.3f s "
                    "CPU in all\n",
                    p.loops, p.loop_items, p.loop_items_here, p.loop_wait,
                    thread_cpu() - here_cpu0);
    }

    for (size_t k = 0; k < m->window; k++) {
        dd_run_result *r = slot_of(&p, k);
        if (m->slot_free)
            m->slot_free(m->ctx, r);
        sh_buf_free(&r->messages);
    }
    free(p.slots);
    free(p.state);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.ready);
    pthread_cond_destroy(&p.done);
    pthread_cond_destroy(&p.loop_finished);
    return ok;
}

bool dd_run_in_order(const dd_ordered_map *o)
{
    map m = {.n = o->n,
             .weight = o->weight,
             .threads = o->threads,
             .caller_works = o->caller_works,
             .window = o->window,
             .max_weight = o->max_weight,
             .ctx = o->ctx,
             .slot_size = o->result_size,
             .worker_new = o->worker_new,
             .worker_free = o->worker_free,
             .work = o->work,
             .consume = o->consume,
             .slot_free = o->result_free};
    return run_map(&m);
}

bool dd_run_stream(const dd_stream_map *s)
{
    map m = {.produce = s->produce,
             .threads = s->threads,
             .caller_works = s->caller_works,
             .window = s->window,
             .max_weight = s->max_weight,
             .ctx = s->ctx,
             .slot_size = s->slot_size,
             .worker_new = s->worker_new,
             .worker_free = s->worker_free,
             .work = s->work,
             .consume = s->consume,
             .slot_free = s->slot_free};
    return run_map(&m);
}

/* ------------------------------------------------------------ the pool */

/*
 * The items of a loop are handed out without a lock an item: the threads
 * claim them from one atomic word, the loop's generation (how many loops
 * the pool published, 32 bits) and the next item to claim (32 bits), by a
 * compare-and-swap that succeeds only while the word still names the
 * generation the thread took the loop's description for. So a worker late
 * from loop K (it read K's word, then slept) can never claim an item of
 * loop K + 1 with K's work and context: its swap fails once the calling
 * thread published K + 1. The threads count the items they ran in `done`
 * (atomic), and a loop in order marks each item in `ran` with the loop's
 * generation (no array to clear between loops). The lock and the two
 * condition variables serve only to sleep and wake: a loop is published
 * under the lock (its description and its word), and a worker copies the
 * description under it when it sees a new generation; a worker sleeps
 * (`asleep`, under the lock) only when the word still names the loop it
 * finished, and a loop is published with a wake-up only when one sleeps.
 * The calling thread says what it waits for (`waiting_for`: an item, or
 * the whole loop) before it looks a last time and sleeps, and a thread
 * that ran that item, or the loop's last, wakes it only then. On the news
 * at -j 2 this took the pool's futex calls from 1 or 2 an item (the lock
 * taken to claim, to count, to wait) to about 1 a loop (bench/README.md,
 * "the pool's loops without a lock an item").
 */

/* Items of one published loop at most: the word's 32 bits. dd_pool_for
 * runs a longer loop as several. */
#define LOOP_ITEMS_MAX ((size_t)UINT32_MAX)
/* What the calling thread waits for (waiting_for), beside an item. */
#define WAITING_FOR_NOTHING SIZE_MAX
#define WAITING_FOR_ALL (SIZE_MAX - 1)

/* A loop as published: work(ctx, worker, base + i) for i in 0..n-1. */
typedef struct pool_loop {
    uint32_t generation; /* 0: none yet */
    size_t n, base;
    void *ctx;
    void (*work)(void *ctx, void *worker, size_t i);
    bool in_order; /* claimed one item at a time, each marked in `ran` */
} pool_loop;

struct dd_pool {
    const char *name;
    void *pool_ctx;
    void *(*worker_new)(void *pool_ctx);
    void (*worker_free)(void *pool_ctx, void *worker);
    pthread_t *threads;
    unsigned started;
    void *own; /* the calling thread's worker state */
    bool own_made;
    pthread_mutex_t lock;
    pthread_cond_t start;    /* a loop was published, or the pool ends */
    pthread_cond_t finished; /* what the calling thread waits for has run */
    /* Written by the calling thread under the lock; workers copy it under
     * the lock. */
    pool_loop loop;
    unsigned asleep; /* workers waiting on `start` (the lock held) */
    bool ending;
    _Atomic uint64_t claim; /* generation << 32 | the next item to claim */
    atomic_size_t done;     /* items of the loop that ran */
    atomic_size_t waiting_for;
    _Atomic uint32_t *ran; /* a loop in order: ran[i] == generation once item i ran */
    size_t ran_cap;
    double own_cpu; /* the calling thread's CPU in the items of a loop in order */
    /* For DEDUP_RUN_STATS */
    size_t loops, items;
    double work_cpu, waited;
};

/* Claims items of loop l: the next one, or for a loop not in order a part
 * of what is left (loop_claim). False when l has none left, or is not the
 * pool's loop any more. */
static bool claim_items(dd_pool *p, const pool_loop *l, size_t *first, size_t *k)
{
    uint64_t word = atomic_load_explicit(&p->claim, memory_order_relaxed);
    for (;;) {
        size_t next = (uint32_t)word;
        if ((uint32_t)(word >> 32) != l->generation || next >= l->n)
            return false;
        size_t take = l->in_order ? 1 : loop_claim(l->n - next, p->started + 1);
        if (atomic_compare_exchange_weak_explicit(&p->claim, &word, word + take,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *first = next;
            *k = take;
            return true;
        }
    }
}

/* Wakes the calling thread, asleep on `finished` or about to check under
 * the lock whether it must: taking the lock orders this after its check. */
static void wake_caller(dd_pool *p)
{
    pthread_mutex_lock(&p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_signal(&p->finished); /* with the lock free */
}

/* Counts items first..first+k-1 of l as run (marked, for a loop in order),
 * and wakes the calling thread if it waits for one of them or for the
 * loop's end. Sequentially consistent, as the caller's store of what it
 * waits for and its check that follows: one of the two sees the other. */
static void items_ran(dd_pool *p, const pool_loop *l, size_t first, size_t k)
{
    if (l->in_order)
        atomic_store(&p->ran[first], l->generation);
    size_t done = atomic_fetch_add(&p->done, k) + k;
    size_t awaited = atomic_load(&p->waiting_for);
    if (awaited == WAITING_FOR_NOTHING)
        return;
    if ((awaited == WAITING_FOR_ALL && done == l->n) ||
        (l->in_order && awaited == first))
        wake_caller(p);
}

/* Runs items of l as long as some are left to claim. */
static void run_items(dd_pool *p, const pool_loop *l, void *worker)
{
    size_t first, k;
    while (claim_items(p, l, &first, &k)) {
        for (size_t i = first; i < first + k; i++)
            l->work(l->ctx, worker, l->base + i);
        items_ran(p, l, first, k);
    }
}

static uint32_t word_generation(const dd_pool *p)
{
    return (uint32_t)(atomic_load_explicit(&p->claim, memory_order_relaxed) >> 32);
}

/* A worker: sleeps until a loop it has not seen is published, copies its
 * description (the lock held), and runs its items with the others. */
static void *pool_worker(void *arg)
{
    dd_pool *p = arg;
    double cpu0 = thread_cpu();
    void *worker = p->worker_new ? p->worker_new(p->pool_ctx) : NULL;
    pool_loop l = {0};
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->ending && word_generation(p) == l.generation) {
            p->asleep++;
            pthread_cond_wait(&p->start, &p->lock);
            p->asleep--;
        }
        if (p->ending)
            break;
        l = p->loop;
        pthread_mutex_unlock(&p->lock);
        run_items(p, &l, worker);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (p->worker_free)
        p->worker_free(p->pool_ctx, worker);
    double cpu = thread_cpu() - cpu0;
    pthread_mutex_lock(&p->lock);
    p->work_cpu += cpu;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

dd_pool *dd_pool_new(const char *name, unsigned threads, void *pool_ctx,
                     void *(*worker_new)(void *pool_ctx),
                     void (*worker_free)(void *pool_ctx, void *worker))
{
    dd_pool *p = dd_calloc(1, sizeof *p);
    p->name = name;
    p->pool_ctx = pool_ctx;
    p->worker_new = worker_new;
    p->worker_free = worker_free;
    dd_run_lock_init(&p->lock);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->finished, NULL);
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->waiting_for, WAITING_FOR_NOTHING);
    /* The calling thread works in the loops too: threads - 1 more. */
    if (threads > 1) {
        p->threads = dd_calloc(threads - 1, sizeof *p->threads);
        for (; p->started < threads - 1; p->started++)
            if (pthread_create(&p->threads[p->started], NULL, pool_worker, p) != 0)
                break;
    }
    return p;
}

/* The calling thread's worker state, made when first needed. */
static void *own_state(dd_pool *p)
{
    if (!p->own_made) {
        p->own = p->worker_new ? p->worker_new(p->pool_ctx) : NULL;
        p->own_made = true;
    }
    return p->own;
}

unsigned dd_pool_threads(const dd_pool *p) { return p->started; }

/* Publishes work(ctx, worker, base + i) for i in 0..n-1 (n at most
 * LOOP_ITEMS_MAX) as the pool's loop, and wakes the workers asleep that
 * its items can keep busy (the calling thread takes some too). The items
 * of the loop before have all run: no thread writes `done` or `ran` now. */
static void publish_loop(dd_pool *p, size_t n, size_t base, void *ctx,
                         void (*work)(void *ctx, void *worker, size_t i), bool in_order)
{
    pthread_mutex_lock(&p->lock);
    uint32_t generation = p->loop.generation + 1;
    if (generation == 0) { /* 2^32 loops: the marks of old ones could match */
        generation = 1;
        for (size_t i = 0; i < p->ran_cap; i++)
            atomic_store_explicit(&p->ran[i], 0, memory_order_relaxed);
    }
    p->loop = (pool_loop){generation, n, base, ctx, work, in_order};
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (uint64_t)generation << 32, memory_order_relaxed);
    /* The calling thread takes an item too: n - 1 for the workers. */
    size_t for_workers = n > 1 ? n - 1 : 0;
    unsigned wake = p->asleep < for_workers ? p->asleep : (unsigned)for_workers;
    pthread_mutex_unlock(&p->lock);
    for (unsigned k = 0; k < wake; k++) /* with the lock free */
        pthread_cond_signal(&p->start);
}

/* Returns once every item of the pool's loop has ran (the calling thread
 * having claimed all it could): sleeps only if some has not. */
static void wait_for_all(dd_pool *p)
{
    size_t n = p->loop.n;
    if (atomic_load(&p->done) == n)
        return;
    double waited = dd_monotonic_seconds();
    atomic_store(&p->waiting_for, WAITING_FOR_ALL);
    if (atomic_load(&p->done) != n) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->done) != n)
            pthread_cond_wait(&p->finished, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    atomic_store(&p->waiting_for, WAITING_FOR_NOTHING);
    p->waited += dd_monotonic_seconds() - waited;
}

void dd_pool_for(dd_pool *p, size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i))
{
    p->loops++;
    p->items += n;
    if (n == 0)
        return;
    double cpu0 = thread_cpu();
    void *own = own_state(p);
    if (p->started == 0) {
        for (size_t i = 0; i < n; i++)
            work(ctx, own, i);
        p->work_cpu += thread_cpu() - cpu0;
        return;
    }
    /* Published, then worked on by the workers and by this thread: an
     * item is held up only while the thread that took it runs it. */
    for (size_t base = 0; base < n; base += LOOP_ITEMS_MAX) {
        publish_loop(p, n - base < LOOP_ITEMS_MAX ? n - base : LOOP_ITEMS_MAX, base, ctx, work,
                     false);
        run_items(p, &p->loop, own);
        wait_for_all(p);
    }
    p->work_cpu += thread_cpu() - cpu0;
}

void dd_pool_start(dd_pool *p, size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i))
{
    p->loops++;
    p->items += n;
    if (n > LOOP_ITEMS_MAX) /* run.h: a loop in order is a batch, under 2^32 items */
        abort();
    if (n > p->ran_cap) { /* no thread reads `ran` between two loops */
        p->ran = dd_realloc(p->ran, n * sizeof *p->ran);
        for (size_t i = p->ran_cap; i < n; i++)
            atomic_init(&p->ran[i], 0);
        p->ran_cap = n;
    }
    publish_loop(p, n, 0, ctx, work, true);
}

/* Runs, on the calling thread, the next item of the loop in order that no
 * thread took; false when none is left. */
static bool run_next_here(dd_pool *p)
{
    size_t first, k;
    if (!claim_items(p, &p->loop, &first, &k))
        return false;
    double cpu0 = thread_cpu();
    p->loop.work(p->loop.ctx, own_state(p), first);
    p->own_cpu += thread_cpu() - cpu0;
    items_ran(p, &p->loop, first, k);
    return true;
}

void dd_pool_wait(dd_pool *p, size_t i)
{
    uint32_t generation = p->loop.generation;
    while (atomic_load(&p->ran[i]) != generation) {
        if (run_next_here(p)) /* rather than wait, an item of its own */
            continue;
        double waited = dd_monotonic_seconds();
        atomic_store(&p->waiting_for, i);
        if (atomic_load(&p->ran[i]) != generation) {
            pthread_mutex_lock(&p->lock);
            while (atomic_load(&p->ran[i]) != generation)
                pthread_cond_wait(&p->finished, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        atomic_store(&p->waiting_for, WAITING_FOR_NOTHING);
        p->waited += dd_monotonic_seconds() - waited;
    }
}

void dd_pool_finish(dd_pool *p)
{
    while (run_next_here(p))
        ;
    wait_for_all(p);
    p->work_cpu += p->own_cpu;
    p->own_cpu = 0;
}

void dd_pool_free(dd_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->ending = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (unsigned t = 0; t < p->started; t++)
        pthread_join(p->threads[t], NULL);
    if (p->own_made && p->worker_free)
        p->worker_free(p->pool_ctx, p->own);
    if (stats_wanted())
        fprintf(stderr,
                "dedup: pool (%s): %zu loops, %zu items, %u threads and the caller: work %.3f s "
                "CPU, the caller waited %.3f s\n",
                p->name, p->loops, p->items, p->started, p->work_cpu, p->waited);
    free(p->threads);
    free(p->ran);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->finished);
    free(p);
}
