/*
 * group.c - group commit of concurrent calls' pieces of work (see group.h).
 *
 * A queue under one mutex.  A call queues its piece and, while the piece is
 * not done, either leads (when its piece is still queued and a leader's
 * place is free: it takes its own piece and the queued pieces of the same
 * key, runs them, marks them done and wakes everyone) or waits.  A piece
 * whose group failed as a whole is run again alone by its own call.
 */
#include "hl/group.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { QUEUED, TAKEN, DONE, RETRY_ALONE };

struct hl_group {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	hl_group_item *head, **tail;
	int leaders, max_leaders, max_items;
	hl_group_run run;
};

hl_group *hl_group_new(int max_leaders, int max_items, hl_group_run run)
{
	hl_group *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->tail = &g->head;
	g->max_leaders = max_leaders < 1 ? 1 : max_leaders;
	g->max_items = max_items < 1 ? 1 : max_items > HL_GROUP_MAX_ITEMS ? HL_GROUP_MAX_ITEMS : max_items;
	g->run = run;
	return g;
}

void hl_group_free(hl_group *g)
{
	if (!g)
		return;
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/*
 * Under mu: own first, then the queued pieces of its key, up to max_items; all TAKEN and off the
 * queue (one pass, which also finds the queue's new tail).
 */
static int take(hl_group *g, hl_group_item *own, hl_group_item **batch)
{
	int n = 1;
	batch[0] = own;
	hl_group_item **p = &g->head;
	while (*p) {
		hl_group_item *it = *p;
		if (it != own && (n == g->max_items || strcmp(it->key, own->key) != 0)) {
			p = &it->next;
			continue;
		}
		*p = it->next;
		it->state = TAKEN;
		if (it != own)
			batch[n++] = it;
	}
	g->tail = p;
	return n;
}

static void lead(hl_group *g, hl_group_item *own, hl_group_item **batch)
{
	int n = take(g, own, batch);
	g->leaders++;
	pthread_mutex_unlock(&g->mu);
	hl_status st = g->run(own->call, batch, n);
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < n; i++)
		batch[i]->state = st && n > 1 ? RETRY_ALONE : DONE;
	g->leaders--;
	pthread_cond_broadcast(&g->cv);
}

hl_status hl_group_submit(hl_group *g, hl_call *c, const char *key, void *work)
{
	hl_group_item item = {.call = c, .work = work, .key = key, .state = QUEUED};
	hl_group_item *batch[HL_GROUP_MAX_ITEMS];
	pthread_mutex_lock(&g->mu);
	*g->tail = &item;
	g->tail = &item.next;
	while (item.state == QUEUED || item.state == TAKEN) {
		if (item.state == QUEUED && g->leaders < g->max_leaders)
			lead(g, &item, batch);
		else
			pthread_cond_wait(&g->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	if (item.state == DONE)
		return item.st;
	hl_group_item *alone = &item;
	(void)g->run(c, &alone, 1); /* alone, the run sets the piece's outcome either way */
	return item.st;
}
