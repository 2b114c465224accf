/*
 * cpgprobe: a client of Debian's real libcpg.so.4 (corosync 3.1.7), used by
 * the integration tests to show that an unmodified libcpg works against
 * needle's cpgd exactly as against corosync.
 *
 * The few declarations below are written from libcpg's public API (types
 * and calls of cpg.h as documented in cpg_*(3)); no corosync header is
 * needed to build it: gcc -o cpgprobe cpgprobe.c /usr/lib/x86_64-linux-gnu/libcpg.so.4
 *
 * Usage: cpgprobe GROUP MEMBERS SIZE COUNT
 * Joins GROUP (model v1, initial totem confchg requested), waits for
 * MEMBERS processes, multicasts COUNT messages of SIZE bytes (libcpg
 * fragments those over 1 MiB − 1024), retrying CS_ERR_TRY_AGAIN, and
 * dispatches until it has MEMBERS × COUNT messages. Each message carries
 * its sender's sequence number and a byte pattern; the probe checks every
 * sender's messages arrive once, in order, intact. It prints one line
 * "cpgprobe ok received=N totem=T node=X" and exits 0, or prints the
 * fault and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

typedef uint64_t cpg_handle_t;
typedef int cs_error_t;
struct cpg_name { uint32_t length; char value[128]; };
struct cpg_address { uint32_t nodeid; uint32_t pid; uint32_t reason; };
struct cpg_ring_id { uint32_t nodeid; uint64_t seq; };
typedef void (*deliver_fn)(cpg_handle_t, const struct cpg_name *, uint32_t, uint32_t, void *, size_t);
typedef void (*confchg_fn)(cpg_handle_t, const struct cpg_name *, const struct cpg_address *, size_t,
			   const struct cpg_address *, size_t, const struct cpg_address *, size_t);
typedef void (*totem_fn)(cpg_handle_t, struct cpg_ring_id, uint32_t, const uint32_t *);
struct model_v1 { int model; deliver_fn deliver; confchg_fn confchg; totem_fn totem; unsigned int flags; };

cs_error_t cpg_model_initialize(cpg_handle_t *, int, void *, void *);
cs_error_t cpg_join(cpg_handle_t, const struct cpg_name *);
cs_error_t cpg_mcast_joined(cpg_handle_t, int, const struct iovec *, unsigned int);
cs_error_t cpg_dispatch(cpg_handle_t, int);
cs_error_t cpg_finalize(cpg_handle_t);
cs_error_t cpg_local_get(cpg_handle_t, unsigned int *);

enum { CS_OK = 1, CS_ERR_TRY_AGAIN = 6, MODEL_V1 = 1, AGREED = 2, DISPATCH_ALL = 2, DISPATCH_ONE = 1 };

#define MAXSENDERS 64
static struct { uint32_t nodeid, pid; uint64_t next; } senders[MAXSENDERS];
static int nsenders, members, totems, failed;
static uint64_t received;
static size_t msgsize;

static void fail(const char *what)
{
	printf("cpgprobe FAIL %s\n", what);
	fflush(stdout);
	failed = 1;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	uint64_t seq;
	int i;
	(void)h; (void)g;
	if (len != msgsize || len < 8) {
		fail("message length");
		return;
	}
	memcpy(&seq, msg, 8);
	for (i = 8; i < (int)len; i += 4093)
		if (((unsigned char *)msg)[i] != (unsigned char)(seq + i)) {
			fail("message content");
			return;
		}
	for (i = 0; i < nsenders; i++)
		if (senders[i].nodeid == nodeid && senders[i].pid == pid)
			break;
	if (i == nsenders) {
		if (nsenders == MAXSENDERS) {
			fail("too many senders");
			return;
		}
		senders[nsenders].nodeid = nodeid;
		senders[nsenders].pid = pid;
		senders[nsenders].next = 0;
		nsenders++;
	}
	if (seq != senders[i].next) {
		fail("sender order (loss, duplicate or reorder)");
		return;
	}
	senders[i].next++;
	received++;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj)
{
	(void)h; (void)g; (void)m; (void)l; (void)nl; (void)j; (void)nj;
	members = (int)nm;
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id r, uint32_t n, const uint32_t *list)
{
	(void)h; (void)r; (void)n; (void)list;
	totems++;
}

int main(int argc, char **argv)
{
	struct model_v1 model = { MODEL_V1, on_deliver, on_confchg, on_totem, 1 };
	struct cpg_name group;
	cpg_handle_t h;
	unsigned int node = 0;
	int want, count, i, tries;
	char *buf;
	cs_error_t err;

	if (argc != 5) {
		fprintf(stderr, "usage: cpgprobe GROUP MEMBERS SIZE COUNT\n");
		return 2;
	}
	want = atoi(argv[2]);
	msgsize = strtoul(argv[3], NULL, 10);
	count = atoi(argv[4]);
	group.length = strlen(argv[1]);
	memcpy(group.value, argv[1], group.length);
	buf = malloc(msgsize);
	if (!buf || msgsize < 8)
		return 2;
	for (tries = 0; (err = cpg_model_initialize(&h, MODEL_V1, &model, NULL)) != CS_OK; tries++) {
		if (tries > 200) {
			printf("cpgprobe FAIL initialize %d\n", err);
			return 1;
		}
		usleep(100000);
	}
	cpg_local_get(h, &node);
	while ((err = cpg_join(h, &group)) == CS_ERR_TRY_AGAIN)
		usleep(10000);
	if (err != CS_OK) {
		printf("cpgprobe FAIL join %d\n", err);
		return 1;
	}
	while (members < want && !failed)
		if ((err = cpg_dispatch(h, DISPATCH_ONE)) != CS_OK) {
			printf("cpgprobe FAIL dispatch %d\n", err);
			return 1;
		}
	for (i = 0; i < count && !failed; i++) {
		uint64_t seq = i;
		struct iovec iov = { buf, msgsize };
		size_t k;
		memcpy(buf, &seq, 8);
		for (k = 8; k < msgsize; k += 4093)
			buf[k] = (char)(seq + k);
		while ((err = cpg_mcast_joined(h, AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN) {
			cpg_dispatch(h, DISPATCH_ALL);
			usleep(100);
		}
		if (err != CS_OK) {
			printf("cpgprobe FAIL mcast %d\n", err);
			return 1;
		}
		cpg_dispatch(h, DISPATCH_ALL);
	}
	while (received < (uint64_t)want * count && !failed)
		if ((err = cpg_dispatch(h, DISPATCH_ONE)) != CS_OK) {
			printf("cpgprobe FAIL dispatch %d\n", err);
			return 1;
		}
	if (failed)
		return 1;
	printf("cpgprobe ok received=%llu totem=%d node=%u\n", (unsigned long long)received, totems, node);
	fflush(stdout);
	cpg_finalize(h);
	return 0;
}
