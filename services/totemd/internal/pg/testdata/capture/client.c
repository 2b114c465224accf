#include <corosync/cpg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len) {}
static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
		    const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj) {}

int main(int argc, char **argv) {
	cpg_handle_t h;
	cpg_callbacks_t cb = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
	struct cpg_name g = { .length = 6 };
	memcpy(g.value, "pgtest", 6);
	if (cpg_initialize(&h, &cb) != CS_OK) { fprintf(stderr, "init\n"); return 1; }
	if (cpg_join(h, &g) != CS_OK) { fprintf(stderr, "join\n"); return 1; }
	sleep(1);
	static char buf[1 << 20];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "sleep") == 0) { usleep(1500000); continue; }
		int n = atoi(argv[i]);
		for (int k = 0; k < n; k++) buf[k] = (char)(i * 31 + k * 7);
		struct iovec iov = { buf, n };
		cs_error_t e;
		while ((e = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN) usleep(1000);
		if (e != CS_OK) { fprintf(stderr, "mcast %d: %d\n", n, e); return 1; }
	}
	sleep(2);
	cpg_finalize(h);
	return 0;
}
