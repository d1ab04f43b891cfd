/*
 * test_group.c - group commit (common/src/group.c) under real threads: every
 * piece runs exactly once and gets its outcome; a group holds one key only,
 * at most max_items pieces, and at most max_leaders groups run at once;
 * under contention pieces do run together; a group that fails as a whole is
 * run again piece by piece, so only the piece at fault fails.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "hl/group.h"
#include "t.h"

#define THREADS 16
#define PER_THREAD 150
#define MAX_ITEMS 8
#define MAX_LEADERS 2

struct piece {
	const char *key;
	bool bad;       /* fails its group (test_whole_failure) */
	int committed;  /* times it was part of a group that succeeded */
};

static atomic_int running, most_running, biggest, groups, mixed_keys, oversized;

static void pause_us(long us)
{
	nanosleep(&(struct timespec){0, us * 1000}, NULL);
}

static void note_group(hl_group_item **items, int n)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	for (int m = atomic_load(&most_running); now > m && !atomic_compare_exchange_weak(&most_running, &m, now);)
		;
	for (int b = atomic_load(&biggest); n > b && !atomic_compare_exchange_weak(&biggest, &b, n);)
		;
	atomic_fetch_add(&groups, 1);
	if (n > MAX_ITEMS)
		atomic_fetch_add(&oversized, 1);
	for (int i = 1; i < n; i++)
		if (strcmp(((struct piece *)items[i]->work)->key, ((struct piece *)items[0]->work)->key) != 0)
			atomic_fetch_add(&mixed_keys, 1);
}

/* A run that takes a while (as a transaction would) and fails as a whole when it holds a bad piece. */
static hl_status run(hl_call *leader, hl_group_item **items, int n)
{
	(void)leader;
	note_group(items, n);
	pause_us(300);
	bool bad = false;
	for (int i = 0; i < n; i++)
		bad |= ((struct piece *)items[i]->work)->bad;
	atomic_fetch_sub(&running, 1);
	if (bad && n > 1)
		return HL_ABORTED;
	for (int i = 0; i < n; i++) {
		struct piece *p = items[i]->work;
		items[i]->st = p->bad ? HL_INVALID : HL_OK;
		if (!p->bad)
			p->committed++; /* only the submitting thread reads it, after its submit returns */
	}
	return bad ? HL_INVALID : HL_OK;
}

static hl_group *group;
static struct piece pieces[THREADS][PER_THREAD];
static hl_status outcomes[THREADS][PER_THREAD];

static void *submitter(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = 0; i < PER_THREAD; i++)
		outcomes[t][i] = hl_group_submit(group, NULL, pieces[t][i].key, &pieces[t][i]);
	return NULL;
}

static void run_all(void)
{
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		T_ASSERT(pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
}

static void setup(int bad_every)
{
	atomic_store(&most_running, 0);
	atomic_store(&biggest, 0);
	atomic_store(&groups, 0);
	atomic_store(&mixed_keys, 0);
	atomic_store(&oversized, 0);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			pieces[t][i] = (struct piece){.key = t % 3 ? "tenant-a" : "tenant-b",
						      .bad = bad_every && (t * PER_THREAD + i) % bad_every == 0};
}

static void test_every_piece_runs_once_in_groups_of_one_key(void)
{
	setup(0);
	run_all();
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			T_ASSERT(outcomes[t][i] == HL_OK);
			T_EQ_INT(pieces[t][i].committed, 1);
		}
	T_EQ_INT(atomic_load(&mixed_keys), 0);
	T_EQ_INT(atomic_load(&oversized), 0);
	T_ASSERT(atomic_load(&most_running) <= MAX_LEADERS);
	T_ASSERT(atomic_load(&biggest) > 1);                      /* pieces did run together */
	T_ASSERT(atomic_load(&groups) < THREADS * PER_THREAD);  /* fewer groups than pieces */
}

static void test_whole_failure_is_retried_piece_by_piece(void)
{
	setup(37);
	run_all();
	int bad = 0;
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			struct piece *p = &pieces[t][i];
			bad += p->bad;
			T_ASSERT(outcomes[t][i] == (p->bad ? HL_INVALID : HL_OK));
			T_EQ_INT(p->committed, p->bad ? 0 : 1);
		}
	T_ASSERT(bad > 10);
	T_EQ_INT(atomic_load(&mixed_keys), 0);
}

int main(void)
{
	group = hl_group_new(MAX_LEADERS, MAX_ITEMS, run);
	if (!group)
		return 1;
	T_RUN(test_every_piece_runs_once_in_groups_of_one_key);
	T_RUN(test_whole_failure_is_retried_piece_by_piece);
	hl_group_free(group);
	return T_DONE();
}
