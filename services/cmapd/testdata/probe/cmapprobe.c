/* cmapprobe: drives libcmap with raw values to record how a real corosync
 * 3.1.7 answers. One operation per argument group; every tracker event that
 * arrives after an operation is printed right after its result.
 * Build: gcc -o cmapprobe cmapprobe.c -lcmap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>
#include <poll.h>
#include <corosync/cmap.h>

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;
	if (n == 0) {
		printf("-");
	}
	for (i = 0; i < n; i++) {
		printf("%02x", b[i]);
	}
}

static size_t unhex(const char *s, unsigned char *out)
{
	size_t n = 0;
	if (strcmp(s, "-") == 0) {
		return 0;
	}
	while (s[0] && s[1]) {
		unsigned int v;
		sscanf(s, "%2x", &v);
		out[n++] = v;
		s += 2;
	}
	return n;
}

static void notify(cmap_handle_t h, cmap_track_handle_t th, int32_t event,
	const char *key, struct cmap_notify_value nv, struct cmap_notify_value ov, void *ud)
{
	printf("  event %d key %s new %d/%zu/", event, key, nv.type, nv.len);
	hex(nv.data, nv.len);
	printf(" old %d/%zu/", ov.type, ov.len);
	hex(ov.data, ov.len);
	printf("\n");
}

static void drain(cmap_handle_t h)
{
	int fd;
	struct pollfd pfd;
	cmap_fd_get(h, &fd);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 150) > 0) {
		cmap_dispatch(h, CS_DISPATCH_ALL);
	}
}

int main(int argc, char **argv)
{
	cmap_handle_t h;
	cmap_iter_handle_t it = 0;
	static unsigned char buf[70000];
	int i = 1;
	cs_error_t err = cmap_initialize(&h);
	if (err != CS_OK) {
		printf("init error %d\n", err);
		return 1;
	}
	while (i < argc) {
		const char *op = argv[i++];
		if (strcmp(op, "set") == 0) {
			const char *key = argv[i++];
			int type = atoi(argv[i++]);
			size_t n = unhex(argv[i++], buf);
			err = cmap_set(h, key, buf, n, type);
			printf("set %s type %d len %zu -> %d\n", key, type, n, err);
		} else if (strcmp(op, "setfill") == 0) {
			const char *key = argv[i++];
			int type = atoi(argv[i++]);
			size_t n = atoi(argv[i++]);
			memset(buf, 'a', n);
			err = cmap_set(h, key, buf, n, type);
			printf("setfill %s type %d len %zu -> %d\n", key, type, n, err);
		} else if (strcmp(op, "get") == 0) {
			const char *key = argv[i++];
			size_t n = atoi(argv[i++]);
			int given = n != 0;
			cmap_value_types_t t = 0;
			memset(buf, 0, sizeof(buf));
			err = cmap_get(h, key, given ? buf : NULL, &n, &t);
			printf("get %s -> %d type %d len %zu value ", key, err, t, n);
			hex(buf, err == CS_OK && given ? n : 0);
			printf("\n");
		} else if (strcmp(op, "inc") == 0 || strcmp(op, "dec") == 0) {
			const char *key = argv[i++];
			err = op[0] == 'i' ? cmap_inc(h, key) : cmap_dec(h, key);
			printf("%s %s -> %d\n", op, key, err);
		} else if (strcmp(op, "del") == 0) {
			const char *key = argv[i++];
			err = cmap_delete(h, key);
			printf("del %s -> %d\n", key, err);
		} else if (strcmp(op, "track") == 0) {
			const char *key = argv[i++];
			int flags = atoi(argv[i++]);
			cmap_track_handle_t th;
			err = cmap_track_add(h, strcmp(key, "-") ? key : NULL, flags, notify, NULL, &th);
			printf("track %s flags %d -> %d\n", key, flags, err);
		} else if (strcmp(op, "iinit") == 0) {
			const char *p = argv[i++];
			err = cmap_iter_init(h, strcmp(p, "-") ? p : NULL, &it);
			printf("iinit %s -> %d\n", p, err);
		} else if (strcmp(op, "inext") == 0) {
			char key[CMAP_KEYNAME_MAXLEN + 1];
			size_t n = 0;
			cmap_value_types_t t = 0;
			key[0] = 0;
			err = cmap_iter_next(h, it, key, &n, &t);
			printf("inext -> %d %s type %d len %zu\n", err, err == CS_OK ? key : "", t, n);
		} else if (strcmp(op, "ifin") == 0) {
			err = cmap_iter_finalize(h, it);
			printf("ifin -> %d\n", err);
		} else if (strcmp(op, "ibad") == 0) {
			char key[CMAP_KEYNAME_MAXLEN + 1];
			size_t n = 0;
			cmap_value_types_t t = 0;
			err = cmap_iter_next(h, 0x1234567, key, &n, &t);
			printf("inext bad -> %d\n", err);
			err = cmap_iter_finalize(h, 0x1234567);
			printf("ifin bad -> %d\n", err);
		} else {
			printf("unknown op %s\n", op);
			return 2;
		}
		drain(h);
	}
	cmap_finalize(h);
	return 0;
}
