/* Exercises every libcfg call once against a running corosync, so that
 * strace (socket IPC) records the bytes libcfg 3.1.7 sends and receives.
 * Build: gcc -o cfgprobe cfgprobe.c -lcfg -lpthread */
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <unistd.h>
#include <corosync/cfg.h>

static corosync_cfg_handle_t tracker, requester;
static cs_error_t try_result;

static void on_shutdown(corosync_cfg_handle_t h, corosync_cfg_shutdown_flags_t flags)
{
	printf("testshutdown flags=%d\n", flags);
	printf("replyto(no)=%d\n", corosync_cfg_replyto_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_NO));
}

static void *try_shutdown(void *arg)
{
	(void)arg;
	try_result = corosync_cfg_try_shutdown(requester, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST);
	return NULL;
}

int main(void)
{
	corosync_cfg_callbacks_t cb = { .corosync_cfg_shutdown_callback = on_shutdown };
	char **names, **status;
	unsigned int n, i, id;
	struct corosync_cfg_node_status_v1 ns;
	pthread_t th;

	if (corosync_cfg_initialize(&tracker, &cb) != CS_OK || corosync_cfg_initialize(&requester, NULL) != CS_OK) {
		fprintf(stderr, "init failed\n");
		return 1;
	}
	printf("ring_status_get=%d\n", corosync_cfg_ring_status_get(tracker, &names, &status, &n));
	for (i = 0; i < n; i++)
		printf("  [%s] [%s]\n", names[i], status[i]);
	printf("local_get=%d", corosync_cfg_local_get(tracker, &id));
	printf(" id=%u\n", id);
	printf("node_status_get(99)=%d", corosync_cfg_node_status_get(tracker, 99, CFG_NODE_STATUS_V1, &ns));
	printf(" nodeid=%u reachable=%d\n", ns.nodeid, ns.reachable);
	printf("replyto(yes) without vote=%d\n", corosync_cfg_replyto_shutdown(tracker, COROSYNC_CFG_SHUTDOWN_FLAG_YES));
	printf("trackstart=%d\n", corosync_cfg_trackstart(tracker, 0));
	pthread_create(&th, NULL, try_shutdown, NULL);
	printf("dispatch=%d\n", corosync_cfg_dispatch(tracker, CS_DISPATCH_ONE));
	pthread_join(th, NULL);
	printf("try_shutdown(request)=%d\n", try_result);
	printf("trackstop=%d\n", corosync_cfg_trackstop(tracker));
	printf("kill_node(7)=%d\n", corosync_cfg_kill_node(tracker, 7, "probe"));
	corosync_cfg_finalize(requester);
	corosync_cfg_finalize(tracker);
	return 0;
}
