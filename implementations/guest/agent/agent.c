/*
 * vhostcheck guest agent: PID 1's helper inside the QEMU guest. It serves the
 * host's requests (implementations/guest/protocol.ts is the other half and
 * documents the wire format) over the virtio-serial port named
 * "vhostcheck.0": open/close, ioctl with byte payloads, read/write, memfd and
 * shared mappings, eventfds, directory listings (sysfs) and the iproute2
 * `vdpa` tool.
 *
 * It never blocks without a bound: reads and eventfd waits poll with the
 * host's timeout, the vdpa tool is killed at its deadline. A request flagged
 * CONCURRENT (a syscall that may wait for the host itself, e.g. a VDUSE
 * reset that waits for the device's reply) runs on a thread of its own, and
 * its reply may overtake later ones; the host matches replies by id.
 * Memory requests are checked against the mappings the agent made itself, so
 * a bad address from the host is EFAULT, not a dead agent.
 *
 * Built static by the image builder with the host's gcc. The same source is
 * built for the host by node-gyp (native/binding.gyp) for targets on this
 * machine's own device nodes (vhost-vdpa:/dev/vhost-vdpa-N): started with
 * `--channel-fd N`, it serves the same protocol over an inherited socket,
 * and ends with its parent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL_VERSION 2
#define PORT_NAME "vhostcheck.0"
#define MAX_FRAME (4u << 20)
#define MAX_MAPS 64
#define EXEC_OUTPUT_MAX 65536
#define VDPA_TOOL "/bin/vdpa"
#define READY_INTERVAL_MS 250
#define FLAG_CONCURRENT 1
#define REPLY_BUF_SIZE (MAX_FRAME + EXEC_OUTPUT_MAX)

enum op {
	OP_HELLO = 1, OP_OPEN, OP_CLOSE, OP_IOCTL, OP_READ, OP_WRITE, OP_MEMFD, OP_MMAP,
	OP_MUNMAP, OP_MEM_READ, OP_MEM_WRITE, OP_EVENTFD, OP_EVENTFD_SIGNAL, OP_EVENTFD_WAIT, OP_VDPA, OP_READDIR,
	OP_MEM_DIFF,
	/* guest:vhost-net's data path: a packet socket on the tap sees what vhost-net sends and feeds what it receives. */
	OP_SOCKET = 20, OP_BIND = 21,
	OP_READ_NOW = 19,
	/* 17 is assigned to another op. */
	OP_FORKED = 18,
};
#define FORKED_TIMEOUT_MS 2000

static int port = -1;
/* Each thread answers into its own buffer; writes to the port are serialised. */
static __thread uint8_t *reply_buf;
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;

/* `shadow`: what OP_MEM_DIFF last reported of the mapping (NULL until its first use; see mem_diff). */
static struct { uint64_t addr, len; uint8_t *shadow; } maps[MAX_MAPS];

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void write_all(const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(port, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) { perror("vhostcheck-agent: write to port"); exit(1); }
		p += w; n -= (size_t)w;
	}
}

/* Reply frame: u32 length of what follows, u32 id, s32 result (-errno on failure), body. */
static void reply(uint32_t id, int32_t result, size_t body_len)
{
	put32(reply_buf, (uint32_t)(8 + body_len));
	put32(reply_buf + 4, id);
	put32(reply_buf + 8, (uint32_t)result);
	pthread_mutex_lock(&port_lock);
	write_all(reply_buf, 12 + body_len);
	pthread_mutex_unlock(&port_lock);
}

static uint8_t *body_out(void) { return reply_buf + 12; }

/* Reads exactly n bytes; polls with `timeout_ms` (-1: forever) while nothing has arrived yet. */
static int read_exact(uint8_t *p, size_t n, int timeout_ms)
{
	size_t got = 0;
	while (got < n) {
		if (got == 0 && timeout_ms >= 0) {
			struct pollfd pfd = { .fd = port, .events = POLLIN };
			int r = poll(&pfd, 1, timeout_ms);
			if (r == 0) return 0;
			if (r < 0 && errno == EINTR) continue;
		}
		ssize_t r = read(port, p + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && errno == EAGAIN) { usleep(1000); continue; }
		/* End of file: the host closed its end, which ends the session. */
		if (r == 0) exit(0);
		if (r < 0) { perror("vhostcheck-agent: read from port"); exit(1); }
		got += (size_t)r;
	}
	return 1;
}

static int mapped(uint64_t addr, uint64_t len)
{
	for (int i = 0; i < MAX_MAPS; i++)
		if (maps[i].len && addr >= maps[i].addr && len <= maps[i].len && addr - maps[i].addr <= maps[i].len - len)
			return 1;
	return 0;
}

/* Waits up to timeout_ms for fd to be readable: 1 ready, 0 timed out, -errno. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	for (;;) {
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return -errno;
		if (r == 0) return 0;
		if (pfd.revents & POLLNVAL) return -EBADF;
		return 1;
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the vdpa tool with NUL-separated args; result: exit status (128+signal when killed), body: its output. */
static int32_t run_vdpa(const uint8_t *args, size_t n, uint32_t timeout_ms, size_t *out_len)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = VDPA_TOOL;
	size_t i = 0;
	while (i < n && argc < 31) {
		argv[argc++] = (char *)args + i;
		while (i < n && args[i]) i++;
		i++;
	}
	argv[argc] = NULL;
	if (n == 0 || args[n - 1] != 0) return -EINVAL;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
	pid_t pid = fork();
	if (pid < 0) { int e = errno; close(pipefd[0]); close(pipefd[1]); return -e; }
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(VDPA_TOOL, argv);
		_exit(127);
	}
	close(pipefd[1]);
	size_t got = 0;
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) { kill(pid, SIGKILL); break; }
		int r = wait_readable(pipefd[0], (int)left);
		if (r <= 0) { if (r == 0) kill(pid, SIGKILL); break; }
		char tmp[4096];
		ssize_t k = read(pipefd[0], tmp, sizeof tmp);
		if (k <= 0) break;
		size_t keep = got + (size_t)k > EXEC_OUTPUT_MAX ? EXEC_OUTPUT_MAX - got : (size_t)k;
		memcpy(body_out() + got, tmp, keep);
		got += keep;
	}
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
	*out_len = got;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs closer together than this are reported as one: the bytes between are unchanged, so resending them is harmless and cheaper than a header. */
#define DIFF_MERGE_GAP 32
#define DIFF_PAGE 4096

/* Reports the runs of [from, to) where the mapping differs from the shadow into the reply, updating the shadow; 1 when the reply is full. */
static int diff_range(uint8_t *map, uint8_t *shadow, uint64_t from, uint64_t to, uint64_t len, size_t *got)
{
	uint8_t *out = body_out();
	size_t room = MAX_FRAME - 64;
	for (uint64_t page = from; page < to;) {
		uint64_t end = (page / DIFF_PAGE + 1) * DIFF_PAGE;
		if (end > to) end = to;
		if (!memcmp(map + page, shadow + page, end - page)) { page = end; continue; }
		uint64_t i = page;
		while (i < end) {
			if (map[i] == shadow[i]) { i++; continue; }
			uint64_t run = i, last = i;
			for (uint64_t j = i + 1; j < len && j <= last + DIFF_MERGE_GAP; j++)
				if (map[j] != shadow[j]) last = j;
			uint64_t rlen = last + 1 - run;
			if (*got + 8 + rlen > room) return 1;
			put32(out + *got, (uint32_t)run);
			put32(out + *got + 4, (uint32_t)rlen);
			memcpy(out + *got + 8, map + run, rlen);
			memcpy(shadow + run, out + *got + 8, rlen);
			*got += 8 + rlen;
			/* A run may end past this page or range; its bytes now equal the shadow wherever they are scanned again. */
			i = last + 1;
		}
		page = i > end ? i : end;
	}
	return 0;
}

/*
 * OP_MEM_DIFF: keeps the host's mirror of one shared mapping coherent in one round trip. First applies
 * the host's writes (the driver's changes) to the mapping and to the agent's shadow copy of it; then
 * reports the byte runs, inside the scanned ranges, where the mapping now differs from the shadow (what
 * the device wrote since they were last scanned) and updates the shadow there. The shadow starts zeroed,
 * as a fresh memfd is. Ranges are scanned in ascending address order, so a device that writes a used
 * element before the used index (virtio 1.2 §2.7.8.2) is never seen with the new index and the old element.
 * Body: u64 mapping address, u64 mapping length, u32 scan count (SCAN_ALL: the whole mapping), that many
 * ranges (u32 offset, u32 length), then writes (u32 offset, u32 length, bytes). Reply body: runs of u32
 * offset, u32 length, bytes; result 1 when the reply filled up and more runs remain for the next call, else 0.
 */
#define SCAN_ALL 0xffffffffu
static int32_t mem_diff(const uint8_t *b, size_t n, size_t *out_len)
{
	uint64_t addr = get64(b), len = get64(b + 8);
	uint32_t nscan = get32(b + 16);
	int slot = -1;
	for (int i = 0; i < MAX_MAPS; i++)
		if (maps[i].len && maps[i].addr == addr && maps[i].len == len) { slot = i; break; }
	if (slot < 0) return -EINVAL;
	size_t at = 20;
	if (nscan != SCAN_ALL && (nscan > (n - at) / 8)) return -EPROTO;
	const uint8_t *scan = b + at;
	if (nscan != SCAN_ALL) at += (size_t)nscan * 8;
	if (!maps[slot].shadow && !(maps[slot].shadow = calloc(1, len))) return -ENOMEM;
	uint8_t *map = (uint8_t *)(uintptr_t)addr, *shadow = maps[slot].shadow;
	while (at < n) {
		if (n - at < 8) return -EPROTO;
		uint64_t off = get32(b + at), wlen = get32(b + at + 4);
		at += 8;
		if (wlen > n - at || off > len || wlen > len - off) return -EFAULT;
		memcpy(map + off, b + at, wlen);
		memcpy(shadow + off, b + at, wlen);
		at += wlen;
	}
	size_t got = 0;
	int more = 0;
	if (nscan == SCAN_ALL) more = diff_range(map, shadow, 0, len, len, &got);
	for (uint32_t k = 0; nscan != SCAN_ALL && k < nscan && !more; k++) {
		uint64_t from = get32(scan + 8 * k), to = from + get32(scan + 8 * k + 4);
		if (from > len || to > len) return -EFAULT;
		more = diff_range(map, shadow, from, to, len, &got);
	}
	*out_len = got;
	return more;
}

/* Handles one request; `b` is its body of `n` bytes. */
static void serve(uint32_t id, uint16_t op, uint8_t *b, size_t n)
{
#define NEED(len) do { if (n < (len)) { reply(id, -EPROTO, 0); return; } } while (0)
#define SYS(expr) ((expr) < 0 ? -errno : 0)
	switch (op) {
	case OP_HELLO: {
		struct utsname u;
		uname(&u);
		int len = snprintf((char *)body_out(), 512, "vhostcheck-agent %d %s", PROTOCOL_VERSION, u.release);
		reply(id, PROTOCOL_VERSION, (size_t)len);
		return;
	}
	case OP_OPEN: {
		NEED(4);
		char path[4096];
		size_t len = n - 4 < sizeof path - 1 ? n - 4 : sizeof path - 1;
		memcpy(path, b + 4, len);
		path[len] = 0;
		int fd = open(path, (int)get32(b) | O_CLOEXEC);
		reply(id, fd < 0 ? -errno : fd, 0);
		return;
	}
	case OP_CLOSE:
		NEED(4);
		reply(id, SYS(close((int)get32(b))), 0);
		return;
	case OP_IOCTL: {
		/* u32 fd, u32 request, u32 out_len, u32 mode (0 integer argument, 1 buffer), u64 integer, in-bytes. */
		NEED(24);
		int fd = (int)get32(b);
		unsigned long request = get32(b + 4);
		size_t out_len = get32(b + 8), in_len = n - 24;
		if (out_len > MAX_FRAME - 64) { reply(id, -E2BIG, 0); return; }
		int r;
		if (get32(b + 12) == 0) {
			r = ioctl(fd, request, (unsigned long)get64(b + 16));
			reply(id, r < 0 ? -errno : r, 0);
			return;
		}
		size_t len = in_len > out_len ? in_len : out_len;
		uint8_t *arg = body_out();
		memmove(arg, b + 24, in_len);
		memset(arg + in_len, 0, len - in_len);
		r = ioctl(fd, request, arg);
		reply(id, r < 0 ? -errno : r, r < 0 ? 0 : out_len);
		return;
	}
	case OP_READ: {
		/* u32 fd, u32 max length, u32 timeout ms. */
		NEED(12);
		int fd = (int)get32(b);
		size_t len = get32(b + 4);
		if (len > MAX_FRAME - 64) len = MAX_FRAME - 64;
		int w = wait_readable(fd, (int)get32(b + 8));
		if (w <= 0) { reply(id, w == 0 ? -ETIMEDOUT : w, 0); return; }
		ssize_t r = read(fd, body_out(), len);
		reply(id, r < 0 ? -errno : (int32_t)r, r < 0 ? 0 : (size_t)r);
		return;
	}
	case OP_READ_NOW: {
		/* u32 fd, u32 max length: one read(2) with no poll before it, so the syscall's own checks answer
		 * (a VDUSE read with a short buffer is EINVAL, an empty O_NONBLOCK queue EAGAIN). Only on an
		 * O_NONBLOCK fd: a blocking read here would stop the agent. */
		NEED(8);
		int fd = (int)get32(b);
		size_t len = get32(b + 4);
		if (len > MAX_FRAME - 64) len = MAX_FRAME - 64;
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0) { reply(id, -errno, 0); return; }
		if (!(fl & O_NONBLOCK)) { reply(id, -EDEADLK, 0); return; }
		ssize_t r = read(fd, body_out(), len);
		reply(id, r < 0 ? -errno : (int32_t)r, r < 0 ? 0 : (size_t)r);
		return;
	}
	case OP_WRITE: {
		NEED(4);
		ssize_t r = write((int)get32(b), b + 4, n - 4);
		reply(id, r < 0 ? -errno : (int32_t)r, 0);
		return;
	}
	case OP_MEMFD: {
		/* u64 size. */
		NEED(8);
		int fd = memfd_create("vhostcheck", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, (off_t)get64(b)) < 0) { int e = errno; close(fd); reply(id, -e, 0); return; }
		reply(id, fd < 0 ? -errno : fd, 0);
		return;
	}
	case OP_MMAP: {
		/* u32 fd, u32 prot, u32 flags (MAP_SHARED / MAP_PRIVATE, anonymous when fd is -1), u32 pad, u64 length, u64 offset; body: u64 address. */
		NEED(32);
		int slot = -1;
		for (int i = 0; i < MAX_MAPS; i++) if (!maps[i].len) { slot = i; break; }
		if (slot < 0) { reply(id, -ENOMEM, 0); return; }
		int fd = (int)get32(b), flags = (int)get32(b + 8);
		if (fd < 0) flags |= MAP_ANONYMOUS;
		uint64_t len = get64(b + 16);
		void *p = mmap(NULL, len, (int)get32(b + 4), flags, fd, (off_t)get64(b + 24));
		if (p == MAP_FAILED) { reply(id, -errno, 0); return; }
		maps[slot].addr = (uint64_t)(uintptr_t)p;
		maps[slot].len = len;
		put64(body_out(), maps[slot].addr);
		reply(id, 0, 8);
		return;
	}
	case OP_MUNMAP: {
		NEED(16);
		uint64_t addr = get64(b), len = get64(b + 8);
		for (int i = 0; i < MAX_MAPS; i++)
			if (maps[i].len && maps[i].addr == addr && maps[i].len == len) {
				int r = SYS(munmap((void *)(uintptr_t)addr, len));
				if (r == 0) { maps[i].len = 0; free(maps[i].shadow); maps[i].shadow = NULL; }
				reply(id, r, 0);
				return;
			}
		reply(id, -EINVAL, 0);
		return;
	}
	case OP_MEM_READ: {
		/* u64 address, u32 length. */
		NEED(12);
		uint64_t addr = get64(b);
		uint32_t len = get32(b + 8);
		if (len > MAX_FRAME - 64 || !mapped(addr, len)) { reply(id, -EFAULT, 0); return; }
		memcpy(body_out(), (void *)(uintptr_t)addr, len);
		reply(id, 0, len);
		return;
	}
	case OP_MEM_WRITE: {
		NEED(8);
		uint64_t addr = get64(b);
		if (!mapped(addr, n - 8)) { reply(id, -EFAULT, 0); return; }
		memcpy((void *)(uintptr_t)addr, b + 8, n - 8);
		reply(id, 0, 0);
		return;
	}
	case OP_EVENTFD: {
		/* u32 initial value, u32 flags. */
		NEED(8);
		int fd = eventfd(get32(b), (int)get32(b + 4) | EFD_CLOEXEC);
		reply(id, fd < 0 ? -errno : fd, 0);
		return;
	}
	case OP_EVENTFD_SIGNAL: {
		NEED(12);
		uint64_t v = get64(b + 4);
		ssize_t r = write((int)get32(b), &v, 8);
		reply(id, r < 0 ? -errno : 0, 0);
		return;
	}
	case OP_EVENTFD_WAIT: {
		/* u32 fd, u32 timeout ms; body: u64 counter. */
		NEED(8);
		int fd = (int)get32(b);
		int w = wait_readable(fd, (int)get32(b + 4));
		if (w <= 0) { reply(id, w == 0 ? -ETIMEDOUT : w, 0); return; }
		uint64_t v;
		ssize_t r = read(fd, &v, 8);
		if (r < 0) { reply(id, -errno, 0); return; }
		put64(body_out(), v);
		reply(id, 0, 8);
		return;
	}
	case OP_VDPA: {
		/* u32 timeout ms, NUL-terminated arguments. */
		NEED(4);
		size_t out_len = 0;
		int32_t r = run_vdpa(b + 4, n - 4, get32(b), &out_len);
		reply(id, r, r < 0 ? 0 : out_len);
		return;
	}
	case OP_READDIR: {
		/* Path; body: the entry names, each NUL-terminated ("." and ".." left out). */
		char path[4096];
		size_t len = n < sizeof path - 1 ? n : sizeof path - 1;
		memcpy(path, b, len);
		path[len] = 0;
		DIR *d = opendir(path);
		if (!d) { reply(id, -errno, 0); return; }
		size_t got = 0;
		int count = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t l = strlen(e->d_name) + 1;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
			if (got + l > MAX_FRAME - 64) break;
			memcpy(body_out() + got, e->d_name, l);
			got += l;
			count++;
		}
		closedir(d);
		reply(id, count, got);
		return;
	}
	case OP_MEM_DIFF: {
		/* u64 mapping address, u64 mapping length, u32 scan count, scan ranges, writes (see mem_diff). */
		NEED(20);
		size_t out_len = 0;
		int32_t r = mem_diff(b, n, &out_len);
		reply(id, r, r < 0 ? 0 : out_len);
		return;
	}
	case OP_SOCKET: {
		/* u32 domain, u32 type, u32 protocol. */
		NEED(12);
		int fd = socket((int)get32(b), (int)get32(b + 4) | SOCK_CLOEXEC, (int)get32(b + 8));
		reply(id, fd < 0 ? -errno : fd, 0);
		return;
	}
	case OP_BIND:
		/* u32 fd, the socket address's bytes. */
		NEED(4);
		reply(id, SYS(bind((int)get32(b), (const struct sockaddr *)(b + 4), (socklen_t)(n - 4))), 0);
		return;
	case OP_FORKED: {
		/* u32 kind (0 ioctl with an integer argument, 1 ioctl with a buffer, 2 write), u32 fd, u32 request,
		 * u32 pad, u64 integer, bytes. Runs the one syscall in a forked child, which has an mm of its own:
		 * what a process other than a vhost device's owner gets (vhost_dev_check_owner). Result: the
		 * child's syscall result or -errno; -ETIMEDOUT (child killed) past FORKED_TIMEOUT_MS. */
		NEED(24);
		uint32_t kind = get32(b);
		int fd = (int)get32(b + 4);
		unsigned long request = get32(b + 8);
		uint64_t integer = get64(b + 16);
		if (kind > 2) { reply(id, -EINVAL, 0); return; }
		int pipefd[2];
		if (pipe2(pipefd, O_CLOEXEC) < 0) { reply(id, -errno, 0); return; }
		pid_t pid = fork();
		if (pid < 0) { int e = errno; close(pipefd[0]); close(pipefd[1]); reply(id, -e, 0); return; }
		if (pid == 0) {
			long r = kind == 0 ? ioctl(fd, request, (unsigned long)integer)
			       : kind == 1 ? ioctl(fd, request, b + 24)
			       : (long)write(fd, b + 24, n - 24);
			int32_t result = r < 0 ? -errno : (int32_t)r;
			if (write(pipefd[1], &result, sizeof result) != sizeof result) _exit(1);
			_exit(0);
		}
		close(pipefd[1]);
		int32_t result = -ETIMEDOUT;
		int w = wait_readable(pipefd[0], FORKED_TIMEOUT_MS);
		if (w <= 0 || read(pipefd[0], &result, sizeof result) != sizeof result) {
			kill(pid, SIGKILL);
			result = w < 0 ? w : -ETIMEDOUT;
		}
		close(pipefd[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
		reply(id, result, 0);
		return;
	}
	default:
		reply(id, -ENOSYS, 0);
	}
#undef NEED
#undef SYS
}

struct call {
	uint32_t id;
	uint16_t op;
	size_t n;
	uint8_t body[];
};

static void *serve_concurrently(void *arg)
{
	struct call *c = arg;
	reply_buf = malloc(REPLY_BUF_SIZE);
	if (!reply_buf) { fprintf(stderr, "vhostcheck-agent: out of memory\n"); exit(1); }
	serve(c->id, c->op, c->body, c->n);
	free(reply_buf);
	free(c);
	return NULL;
}

/* Only syscalls on fds run concurrently: the mapping table (mmap, memory access) stays on the main thread. */
static int may_run_concurrently(uint16_t op)
{
	return op == OP_OPEN || op == OP_CLOSE || op == OP_IOCTL || op == OP_READ || op == OP_WRITE || op == OP_EVENTFD_WAIT || op == OP_VDPA;
}

static void dispatch(uint32_t id, uint16_t op, uint16_t flags, uint8_t *b, size_t n)
{
	if (!(flags & FLAG_CONCURRENT) || !may_run_concurrently(op)) { serve(id, op, b, n); return; }
	struct call *c = malloc(sizeof *c + n);
	pthread_t t;
	pthread_attr_t attr;
	if (!c) { reply(id, -ENOMEM, 0); return; }
	c->id = id; c->op = op; c->n = n;
	memcpy(c->body, b, n);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, serve_concurrently, c)) { free(c); reply(id, -EAGAIN, 0); }
	pthread_attr_destroy(&attr);
}

/* The /dev node of the virtio-serial port named PORT_NAME (devtmpfs names it vportNpM). */
static int open_port(void)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[512], name[64] = "";
			snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
			FILE *f = fopen(path, "r");
			if (!f) continue;
			if (!fgets(name, sizeof name, f)) name[0] = 0;
			fclose(f);
			name[strcspn(name, "\n")] = 0;
			if (strcmp(name, PORT_NAME)) continue;
			snprintf(path, sizeof path, "/dev/%s", e->d_name);
			closedir(d);
			return open(path, O_RDWR | O_CLOEXEC);
		}
		if (d) closedir(d);
		usleep(50000);
	}
	errno = ENOENT;
	return -1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "--channel-fd")) {
		/* On the host: the channel is a socket the parent passed down, and the agent must not outlive the parent. */
		port = atoi(argv[2]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL)) return 1;
	} else if (argc == 1) {
		port = open_port();
	} else {
		fprintf(stderr, "usage: vhostcheck-agent [--channel-fd N]\n");
		return 2;
	}
	if (port < 0) { perror("vhostcheck-agent: virtio-serial port " PORT_NAME); return 1; }
	static uint8_t req[MAX_FRAME];
	reply_buf = malloc(REPLY_BUF_SIZE);
	if (!reply_buf) return 1;
	/* Announce readiness (a reply with id 0) until the first request arrives: data the host sent
	 * before the port was open was discarded by the guest driver, so the host waits for this. */
	int announcing = 1;
	for (;;) {
		uint8_t hdr[12];
		if (announcing) {
			reply(0, PROTOCOL_VERSION, 0);
			if (!read_exact(hdr, 4, READY_INTERVAL_MS)) continue;
			announcing = 0;
			read_exact(hdr + 4, 8, -1);
		} else {
			read_exact(hdr, 12, -1);
		}
		/* Request frame: u32 length of what follows, u32 id, u16 op, u16 flags, body. */
		uint32_t len = get32(hdr);
		if (len < 8 || len - 8 > MAX_FRAME) { fprintf(stderr, "vhostcheck-agent: bad frame length %u\n", len); return 1; }
		read_exact(req, len - 8, -1);
		uint16_t op, flags;
		memcpy(&op, hdr + 8, 2);
		memcpy(&flags, hdr + 10, 2);
		dispatch(get32(hdr + 4), op, flags, req, len - 8);
	}
}
