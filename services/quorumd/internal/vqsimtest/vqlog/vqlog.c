/*
 * vqlog: an LD_PRELOAD library that makes corosync-vqsim's simulated nodes
 * write votequorum's own log lines to a file, so the differential test
 * (services/quorumd/internal/vqsimtest, vqlog.go) can compare the votes
 * and expected votes corosync's votequorum holds with the vq core's.
 *
 * Why it is needed: vqsim reads the logging {} section and starts libqb's
 * log thread before it forks a process per node; a forked child has no
 * log thread, and in Debian's build every votequorum callsite lookup
 * (qb_log_callsite_get2) returns NULL there, so the nodes log nothing at
 * all. This library answers the lookups in the children itself and writes
 * each message synchronously, one line per write(2) on an O_APPEND file,
 * so lines of different nodes never interleave within a line.
 *
 * Line format:  PID FILE FUNCTION|MESSAGE
 *               PID MAP NODEID      (once per child, see writev below)
 *
 * Only the children log (the controller runs no votequorum) and only
 * votequorum.c's lines are kept. VQLOG_FILE names the file; without it
 * the library does nothing. Written for this test; nothing of corosync's
 * source is in it (the libqb structure's first three members and the two
 * entry points' signatures are libqb's public ABI, include/qb/qblog.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* The leading members of libqb's struct qb_log_callsite. */
struct callsite {
	const char *function;
	const char *filename;
	const char *format;
};

static int out_fd = -1;
static pid_t controller;
static int mapped;
/* The callsite handed to the one qb_log_real_ call that follows each
 * lookup (a node process is single-threaded). */
static struct callsite own;

__attribute__((constructor)) static void vqlog_start(void)
{
	const char *p = getenv("VQLOG_FILE");

	if (p != NULL && *p != '\0')
		out_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	controller = getpid();
}

static int in_node(void)
{
	return out_fd >= 0 && getpid() != controller;
}

struct callsite *qb_log_callsite_get2(const char *message_id, const char *function,
				      const char *filename, const char *format,
				      uint8_t priority, uint32_t lineno, uint32_t tags)
{
	static struct callsite *(*real)(const char *, const char *, const char *,
					const char *, uint8_t, uint32_t, uint32_t);

	if (in_node()) {
		own.function = function;
		own.filename = filename;
		own.format = format;
		return &own;
	}
	if (real == NULL)
		real = (struct callsite *(*)(const char *, const char *, const char *,
					     const char *, uint8_t, uint32_t, uint32_t))
			dlsym(RTLD_NEXT, "qb_log_callsite_get2");
	return real == NULL ? NULL : real(message_id, function, filename, format, priority, lineno, tags);
}

void qb_log_real_(struct callsite *cs, ...)
{
	char b[2048];
	int n, m;
	va_list ap;

	if (!in_node() || cs != &own || cs->format == NULL || cs->filename == NULL ||
	    strstr(cs->filename, "votequorum.c") == NULL)
		return;
	n = snprintf(b, 256, "%d %s %s|", (int)getpid(), cs->filename,
		     cs->function != NULL ? cs->function : "?");
	if (n < 0 || n > 255)
		n = 255;
	va_start(ap, cs);
	m = vsnprintf(b + n, sizeof(b) - n - 1, cs->format, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if (m > (int)sizeof(b) - n - 2)
		m = (int)sizeof(b) - n - 2;
	n += m;
	while (n > 0 && b[n - 1] == '\n')
		n--;
	b[n++] = '\n';
	(void)!write(out_fd, b, n);
}

/*
 * A node's first multicast (NODEINFO from votequorum's exec_init) goes to
 * the controller through writev with vqsim's message header first: its
 * second 32-bit word is the sender's node id. That names the process.
 */
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (real == NULL)
		real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	if (!mapped && in_node() && iovcnt > 0 && iov[0].iov_len >= 12) {
		uint32_t h[3];
		char b[64];
		int n;

		memcpy(h, iov[0].iov_base, sizeof(h));
		n = snprintf(b, sizeof(b), "%d MAP %u\n", (int)getpid(), h[1]);
		(void)!write(out_fd, b, n);
		mapped = 1;
	}
	return real(fd, iov, iovcnt);
}
