//go:build ignore

// Kernel side of graceline's termination probes: signals generated and
// delivered, process exits, and execs that enter a container from outside.
// Each event is tagged with the mount-namespace inode of the process it is
// about, which user space maps to a container. Host processes are dropped
// here unless the event is a signal aimed into a container.

#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

#define TASK_COMM_LEN 16
#define ARGV_LEN 256
#define NSEC_PER_SEC 1000000000ULL

enum event_type {
	EVENT_SIGNAL_GENERATE = 1,
	EVENT_SIGNAL_DELIVER = 2,
	EVENT_EXIT = 3,
	EVENT_EXEC = 4,
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

// Set by the loader before the programs are loaded.
volatile const __u64 signal_mask = 0;  // bit n: signal n is traced
volatile const __u32 host_mntns = 0;   // the host's mount namespace inode
volatile const __u32 include_host = 0; // keep host processes' events too
volatile const __u64 rate_per_sec = 1000;
volatile const __u64 burst = 2000;

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

// Force the emission of the event type into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));

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
