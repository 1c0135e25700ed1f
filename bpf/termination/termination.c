//go:build ignore

// Kernel side of graceline's termination probes: signals generated and
// delivered, process exits, and execs that enter a container from outside.
// Each event is tagged with the mount-namespace inode of the process it is
// about, which user space maps to a container. Host processes are dropped
// here unless the event is a signal aimed into a container.
//
// CNI plugin runs are the one kind of host process followed: a process
// exec'd from a CNI bin directory has its environment (CNI_COMMAND,
// CNI_CONTAINERID, ...), the first bytes it writes to stdout (where a CNI
// plugin reports its error) and its exit status sent up, so that a failing
// network teardown can be told with the plugin's own words.
//
// Removed cgroup directories are reported too, but only those user space
// asked for by id: the ones of stopped containers and sandboxes whose
// removal it is waiting for.

#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

#define TASK_COMM_LEN 16
#define ARGV_LEN 256
#define NSEC_PER_SEC 1000000000ULL
// A CNI plugin's environment is read up to CNI_ENV_LEN bytes (its tail when
// longer), and its stdout up to CNI_OUT_LEN bytes in all.
#define CNI_ENV_LEN 8192
#define CNI_OUT_LEN 2048
#define CNI_FLAG_ENV_TRUNCATED 1
// A removed cgroup's path is sent up to CGROUP_PATH_LEN bytes, NUL included.
#define CGROUP_PATH_LEN 256
#define CGROUP_FLAG_PATH_TRUNCATED 1

enum event_type {
	EVENT_SIGNAL_GENERATE = 1,
	EVENT_SIGNAL_DELIVER = 2,
	EVENT_EXIT = 3,
	EVENT_EXEC = 4,
	EVENT_CNI_EXEC = 5,
	EVENT_CNI_OUTPUT = 6,
	EVENT_CNI_EXIT = 7,
	EVENT_CGROUP_RMDIR = 8,
};

enum disposition {
	DISPOSITION_DEFAULT = 0,
	DISPOSITION_IGNORED = 1,
	DISPOSITION_HANDLER = 2,
};

enum drop_reason {
	DROP_RATE_LIMITED = 0,
	DROP_RINGBUF_FULL = 1,
	DROP_MAX = 2,
};

struct event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__s32 sig;
	__s32 result;      // signal_generate: TRACE_SIGNAL_* verdict
	__u32 flags;       // signal_generate: group; exit: thread-group leader
	__u32 pid;         // target or subject: thread-group id
	__u32 tid;
	__u32 mntns;
	__u32 sender_pid;  // signal_generate: the current task
	__u32 sender_tid;
	__u32 sender_mntns;
	__u32 exit_code;   // raw task->exit_code: (status << 8) | signal
	__u32 disposition; // signal_deliver: enum disposition
	__u32 parent_mntns;
	__u32 argv_len;
	char comm[TASK_COMM_LEN];
	char sender_comm[TASK_COMM_LEN];
	char argv[ARGV_LEN];
};

// cni_exec carries a CNI plugin's start: its argv and its environment.
struct cni_exec {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;  // EVENT_CNI_EXEC
	__u32 pid;
	__u32 flags; // CNI_FLAG_*
	__u32 argv_len;
	__u32 env_len;
	__u32 pad;
	char comm[TASK_COMM_LEN];
	char argv[ARGV_LEN];
	char env[CNI_ENV_LEN];
};

// cni_output carries what a CNI plugin wrote to stdout (EVENT_CNI_OUTPUT)
// or how it exited (EVENT_CNI_EXIT).
struct cni_output {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__u32 pid;
	__u32 exit_code; // EVENT_CNI_EXIT: raw task->exit_code
	__u32 len;       // EVENT_CNI_OUTPUT: bytes in data
	char comm[TASK_COMM_LEN];
	char data[CNI_OUT_LEN];
};

// cgroup_rmdir_event carries a removed cgroup directory (EVENT_CGROUP_RMDIR).
struct cgroup_rmdir_event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__s32 hierarchy; // the hierarchy's id: 0 is cgroup v2's
	__u64 id;        // the cgroup's kernfs id: its directory's inode number
	__u32 flags;     // CGROUP_FLAG_*
	__u32 path_len;  // bytes in path, NUL excluded
	char path[CGROUP_PATH_LEN]; // from the hierarchy's root, e.g. /k8s.io/abc
};

// Set by the loader before the programs are loaded.
volatile const __u64 signal_mask = 0;  // bit n: signal n is traced
volatile const __u32 host_mntns = 0;   // the host's mount namespace inode
volatile const __u32 include_host = 0; // keep host processes' events too
volatile const __u64 rate_per_sec = 1000;
volatile const __u64 burst = 2000;
volatile const __u64 sys_write_nr = 1; // write(2)'s number on this architecture

struct bucket {
	__u64 tokens;
	__u64 last_ns;
};

// One token bucket per mount namespace, so that a signal storm in one
// container spends only that container's budget.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// cni_dir_key names a directory by device (the kernel's dev_t encoding)
// and inode.
struct cni_dir_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

// The CNI bin directories, filled in by user space. A process exec'd from
// a file in one of them is a CNI plugin.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct cni_dir_key);
	__type(value, __u8);
} cni_dirs SEC(".maps");

// The CNI plugins running now, by thread-group id, with the stdout bytes
// already sent up.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} cni_procs SEC(".maps");

// The cgroups whose removal user space waits for, by kernfs id, filled in
// and emptied by user space. Ids are unique within one hierarchy only, so on
// a cgroup v1 host an id may stand for directories of other hierarchies
// too; user space tells them apart by the path.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_ids SEC(".maps");

// cni_live counts the entries of cni_procs, so that the write probe can
// return at once, without a map lookup, while no CNI plugin runs. An entry
// that the LRU evicts is never subtracted; that costs lookups, nothing else.
__u32 cni_live = 0;

// Force the emission of the event types into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));
const struct cni_exec *unused_cni_exec __attribute__((unused));
const struct cni_output *unused_cni_output __attribute__((unused));
const struct cgroup_rmdir_event *unused_cgroup_rmdir_event __attribute__((unused));

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);
	if (n)
		*n += 1;
}

static __always_inline __u32 task_mntns(struct task_struct *t)
{
	if (!t)
		return 0;
	return BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
}

static __always_inline bool is_host(__u32 mntns)
{
	return !include_host && mntns == host_mntns;
}

static __always_inline bool traced(int sig)
{
	return sig > 0 && sig < 64 && (signal_mask & (1ULL << sig));
}

// allow spends a token of the namespace's bucket. The buckets are updated
// without atomics: concurrent CPUs may over- or under-count a token, which a
// rate limit tolerates.
static __always_inline bool allow(__u32 mntns)
{
	__u64 now = bpf_ktime_get_ns();
	struct bucket *b = bpf_map_lookup_elem(&buckets, &mntns);
	if (!b) {
		struct bucket fresh = {.tokens = burst - 1, .last_ns = now};
		bpf_map_update_elem(&buckets, &mntns, &fresh, BPF_ANY);
		return true;
	}
	__u64 elapsed = now - b->last_ns;
	if (elapsed >= 10 * NSEC_PER_SEC) {
		b->tokens = burst;
		b->last_ns = now;
	} else {
		__u64 refill = elapsed * rate_per_sec / NSEC_PER_SEC;
		if (refill > 0) {
			b->tokens += refill;
			if (b->tokens > burst)
				b->tokens = burst;
			b->last_ns = now;
		}
	}
	if (b->tokens == 0) {
		count_drop(DROP_RATE_LIMITED);
		return false;
	}
	b->tokens -= 1;
	return true;
}

static __always_inline struct event *reserve(__u32 type)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->sig = 0;
	e->result = 0;
	e->flags = 0;
	e->sender_pid = 0;
	e->sender_tid = 0;
	e->sender_mntns = 0;
	e->exit_code = 0;
	e->disposition = 0;
	e->parent_mntns = 0;
	e->argv_len = 0;
	e->sender_comm[0] = 0;
	e->argv[0] = 0;
	return e;
}

static __always_inline void fill_task(struct event *e, struct task_struct *t, __u32 mntns)
{
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->mntns = mntns;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
}

// is_cni_plugin says whether the file being exec'd lives in a CNI bin
// directory. bprm->file is the file actually run: a symlink is resolved,
// so the directory is the one the link points into.
static __always_inline bool is_cni_plugin(struct linux_binprm *bprm)
{
	struct dentry *dir = BPF_CORE_READ(bprm, file, f_path.dentry, d_parent);
	struct inode *ino = BPF_CORE_READ(dir, d_inode);
	struct cni_dir_key key = {
		.ino = BPF_CORE_READ(ino, i_ino),
		.dev = BPF_CORE_READ(ino, i_sb, s_dev),
	};
	return bpf_map_lookup_elem(&cni_dirs, &key) != 0;
}

// cni_exec sends up a CNI plugin's argv and environment, and follows the
// process until it exits. libcni puts the CNI_* variables into the plugin's
// environment, in no fixed order, so the whole environment is read; one
// larger than CNI_ENV_LEN is cut at its start (older libcni appended them).
static __always_inline void cni_exec(struct task_struct *t)
{
	__u32 mntns = task_mntns(t);
	if (!allow(mntns))
		return;
	struct cni_exec *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_CNI_EXEC;
	e->pid = BPF_CORE_READ(t, tgid);
	e->flags = 0;
	e->argv_len = 0;
	e->env_len = 0;
	e->pad = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);

	unsigned long start = BPF_CORE_READ(t, mm, arg_start);
	unsigned long end = BPF_CORE_READ(t, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > ARGV_LEN)
		len = ARGV_LEN;
	barrier_var(len);
	if (len > 0 && bpf_probe_read_user(&e->argv, len, (void *)start) == 0)
		e->argv_len = len;

	start = BPF_CORE_READ(t, mm, env_start);
	end = BPF_CORE_READ(t, mm, env_end);
	len = end > start ? end - start : 0;
	if (len > CNI_ENV_LEN) {
		start = end - CNI_ENV_LEN;
		len = CNI_ENV_LEN;
		e->flags |= CNI_FLAG_ENV_TRUNCATED;
	}
	barrier_var(len);
	if (len > 0 && bpf_probe_read_user(&e->env, len, (void *)start) == 0)
		e->env_len = len;

	__u32 tgid = e->pid, sent = 0;
	if (bpf_map_update_elem(&cni_procs, &tgid, &sent, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&cni_live, 1);
	bpf_ringbuf_submit(e, 0);
}

// cni_exit sends up the exit of a followed CNI plugin: its thread-group
// leader's exit code, which is the group's after exit_group.
static __always_inline void cni_exit(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid);
	if (tgid != (__u32)BPF_CORE_READ(t, pid) || !bpf_map_lookup_elem(&cni_procs, &tgid))
		return;
	if (bpf_map_delete_elem(&cni_procs, &tgid) == 0)
		__sync_fetch_and_add(&cni_live, -1);
	struct cni_output *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_CNI_EXIT;
	e->pid = tgid;
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->len = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
}

// write_args reads write(fd, buf, count)'s arguments from the registers
// sys_enter passes, whichever of the two supported architectures this is.
static __always_inline void write_args(void *regs, __u64 *fd, __u64 *buf, __u64 *count)
{
	if (bpf_core_field_exists(struct pt_regs___x86, di)) {
		struct pt_regs___x86 *r = regs;
		*fd = BPF_CORE_READ(r, di);
		*buf = BPF_CORE_READ(r, si);
		*count = BPF_CORE_READ(r, dx);
	} else {
		struct pt_regs___arm64 *r = regs;
		*fd = BPF_CORE_READ(r, regs[0]);
		*buf = BPF_CORE_READ(r, regs[1]);
		*count = BPF_CORE_READ(r, regs[2]);
	}
}

// sys_enter(struct pt_regs *regs, long id) runs for every system call on
// the node. Unless a CNI plugin runs it returns on its first load;
// otherwise, for a write(2) to stdout by a followed plugin, it sends up the
// bytes, CNI_OUT_LEN at most per run.
SEC("raw_tracepoint/sys_enter")
int cni_write(struct bpf_raw_tracepoint_args *ctx)
{
	if (!cni_live || ctx->args[1] != sys_write_nr)
		return 0;
	__u64 fd, buf, count;
	write_args((void *)ctx->args[0], &fd, &buf, &count);
	if (fd != 1 || count == 0)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *sent = bpf_map_lookup_elem(&cni_procs, &tgid);
	if (!sent || *sent >= CNI_OUT_LEN)
		return 0;
	__u64 n = CNI_OUT_LEN - *sent;
	if (count < n)
		n = count;
	if (n > CNI_OUT_LEN)
		n = CNI_OUT_LEN;
	barrier_var(n);
	if (n == 0)
		return 0;
	struct cni_output *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_CNI_OUTPUT;
	e->pid = tgid;
	e->exit_code = 0;
	e->len = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (bpf_probe_read_user(&e->data, n, (void *)buf) == 0) {
		e->len = n;
		*sent += n;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// signal_generate(int sig, struct kernel_siginfo *info,
//                 struct task_struct *task, int group, int result)
SEC("raw_tracepoint/signal_generate")
int signal_generate(struct bpf_raw_tracepoint_args *ctx)
{
	int sig = (int)ctx->args[0];
	struct task_struct *target = (struct task_struct *)ctx->args[2];
	if (!traced(sig))
		return 0;
	__u32 mntns = task_mntns(target);
	if (is_host(mntns) || !allow(mntns))
		return 0;

	struct event *e = reserve(EVENT_SIGNAL_GENERATE);
	if (!e)
		return 0;
	e->sig = sig;
	e->flags = (__u32)ctx->args[3];
	e->result = (__s32)ctx->args[4];
	fill_task(e, target, mntns);
	__u64 id = bpf_get_current_pid_tgid();
	e->sender_pid = id >> 32;
	e->sender_tid = (__u32)id;
	e->sender_mntns = task_mntns((struct task_struct *)bpf_get_current_task());
	bpf_get_current_comm(&e->sender_comm, sizeof(e->sender_comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// signal_deliver(int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
// runs in the receiving task, with the action it had for the signal.
SEC("raw_tracepoint/signal_deliver")
int signal_deliver(struct bpf_raw_tracepoint_args *ctx)
{
	int sig = (int)ctx->args[0];
	struct k_sigaction *ka = (struct k_sigaction *)ctx->args[2];
	if (!traced(sig))
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 mntns = task_mntns(t);
	if (is_host(mntns) || !allow(mntns))
		return 0;

	struct event *e = reserve(EVENT_SIGNAL_DELIVER);
	if (!e)
		return 0;
	e->sig = sig;
	fill_task(e, t, mntns);
	unsigned long handler = (unsigned long)BPF_CORE_READ(ka, sa.sa_handler);
	e->disposition = handler == 0 ? DISPOSITION_DEFAULT : handler == 1 ? DISPOSITION_IGNORED : DISPOSITION_HANDLER;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// sched_process_exit(struct task_struct *p, bool group_dead) runs before the
// task releases its namespaces, so its mount namespace is still readable.
SEC("raw_tracepoint/sched_process_exit")
int sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	if (cni_live)
		cni_exit(t);
	__u32 mntns = task_mntns(t);
	if (is_host(mntns) || !allow(mntns))
		return 0;

	struct event *e = reserve(EVENT_EXIT);
	if (!e)
		return 0;
	fill_task(e, t, mntns);
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->flags = e->pid == e->tid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm).
// An exec whose parent lives in another mount namespace entered the
// container from outside: ExecSync (preStop hooks) and kubectl exec.
SEC("raw_tracepoint/sched_process_exec")
int sched_process_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	if (is_cni_plugin(bprm)) {
		cni_exec(t);
		return 0;
	}
	__u32 mntns = task_mntns(t);
	__u32 parent_mntns = task_mntns(BPF_CORE_READ(t, real_parent));
	if (mntns == parent_mntns || is_host(mntns) || !allow(mntns))
		return 0;

	struct event *e = reserve(EVENT_EXEC);
	if (!e)
		return 0;
	fill_task(e, t, mntns);
	e->parent_mntns = parent_mntns;
	unsigned long start = BPF_CORE_READ(t, mm, arg_start);
	unsigned long end = BPF_CORE_READ(t, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > ARGV_LEN)
		len = ARGV_LEN;
	// Keep clang from reusing the unbounded difference for the call.
	barrier_var(len);
	if (len > 0 && bpf_probe_read_user(&e->argv, len, (void *)start) == 0)
		e->argv_len = len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// cgroup_rmdir(struct cgroup *cgrp, const char *path) runs once a cgroup
// directory was removed, on any hierarchy, with the path from that
// hierarchy's root. It is rare (once per container and controller at most),
// and a hash lookup drops every cgroup nobody waits for.
SEC("raw_tracepoint/cgroup_rmdir")
int cgroup_rmdir(struct bpf_raw_tracepoint_args *ctx)
{
	struct cgroup *cgrp = (struct cgroup *)ctx->args[0];
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	if (!bpf_map_lookup_elem(&cgroup_ids, &id))
		return 0;
	struct cgroup_rmdir_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_CGROUP_RMDIR;
	e->hierarchy = BPF_CORE_READ(cgrp, root, hierarchy_id);
	e->id = id;
	e->flags = 0;
	e->path_len = 0;
	long n = bpf_probe_read_kernel_str(&e->path, sizeof(e->path), (const char *)ctx->args[1]);
	if (n > 0) {
		e->path_len = n - 1;
		if (n == sizeof(e->path))
			e->flags |= CGROUP_FLAG_PATH_TRUNCATED;
	} else {
		e->path[0] = 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
