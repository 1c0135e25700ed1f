//go:build ignore

// The signals group: signals generated (who sent what to whom, and the
// kernel's verdict) and delivered (with the action the receiver had set).
// Each event is tagged with the mount-namespace inode of the signal's
// target, which user space maps to a container; signals to host processes
// are dropped here.

#include "vmlinux_min.h"
#include "graceline.h"

char __license[] SEC("license") = "Dual MIT/GPL";

enum disposition {
	DISPOSITION_DEFAULT = 0,
	DISPOSITION_IGNORED = 1,
	DISPOSITION_HANDLER = 2,
};

// SIGNAL_FLAG_KERNEL: the kernel sent the signal on its own behalf
// (siginfo SEND_SIG_PRIV): the OOM killer, a PID namespace's teardown, a
// CPU-time limit. The current task is only the context it ran in.
#define SIGNAL_FLAG_KERNEL 1
// The kernel's SEND_SIG_PRIV, a siginfo pointer that is not one.
#define SEND_SIG_PRIV ((void *)1)

struct event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;  // EVENT_SIGNAL_GENERATE or EVENT_SIGNAL_DELIVER
	__s32 sig;
	__s32 result;      // generate: TRACE_SIGNAL_* verdict
	__u32 group;       // generate: sent to the thread group
	__u32 pid;         // the target's thread-group id
	__u32 tid;
	__u32 mntns;
	__u32 sender_pid;  // generate: the current task
	__u32 sender_tid;
	__u32 sender_mntns;
	__u32 disposition; // deliver: enum disposition
	__u32 flags;       // generate: SIGNAL_FLAG_*
	__u32 threads;     // deliver: the receiver's thread group's size
	char comm[TASK_COMM_LEN];
	char sender_comm[TASK_COMM_LEN];
};

// Set by the loader before the programs are loaded.
volatile const __u64 signal_mask = 0; // bit n: signal n is traced

// Force the emission of the event type into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));

static __always_inline bool traced(int sig)
{
	return sig > 0 && sig < 64 && (signal_mask & (1ULL << sig));
}

// stop_signal says whether sig is one a runtime stops a container with
// (agent/record's stopSignal is the same list).
static __always_inline bool stop_signal(int sig)
{
	return sig == 15 || sig == 9 || sig == 2 || sig == 3; // SIGTERM, SIGKILL, SIGINT, SIGQUIT
}

static __always_inline struct event *reserve_signal(__u32 type, int sig, struct task_struct *t, __u32 mntns)
{
	struct event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->sig = sig;
	e->result = 0;
	e->group = 0;
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->mntns = mntns;
	e->sender_pid = 0;
	e->sender_tid = 0;
	e->sender_mntns = 0;
	e->disposition = 0;
	e->flags = 0;
	e->threads = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	e->sender_comm[0] = 0;
	return e;
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
	if (!mntns) {
		// The target already left its namespaces: it is exiting, and the
		// signal changes nothing (the kernel's SIGKILLs to a dying
		// process's threads as its PID namespace is torn down). No
		// namespace will ever name its container.
		count_drop(DROP_EXITING_TARGET);
		return 0;
	}
	if (is_host(mntns))
		return 0;
	// A signal from outside the target's container (the runtime, the
	// host, another container, the kernel itself) is always wanted, and a
	// stop signal to its init opens its window, as user space's policy
	// does; one sent inside it is wanted only for its init, in its window,
	// or as its history.
	bool kernel = (void *)ctx->args[1] == SEND_SIG_PRIV;
	__u32 sender_mntns = task_mntns((struct task_struct *)bpf_get_current_task());
	bool init = is_init(BPF_CORE_READ(target, tgid));
	enum record rec = RECORD_NOW;
	if (kernel || sender_mntns != mntns) {
		if (init && stop_signal(sig))
			open_window(mntns);
	} else if (!init && !(rec = recorded(mntns))) {
		return 0;
	}
	if (!allow(mntns))
		return 0;

	struct event *e = reserve_signal(EVENT_SIGNAL_GENERATE, sig, target, mntns);
	if (!e)
		return 0;
	e->group = (__u32)ctx->args[3];
	e->result = (__s32)ctx->args[4];
	if (kernel)
		e->flags |= SIGNAL_FLAG_KERNEL;
	__u64 id = bpf_get_current_pid_tgid();
	e->sender_pid = id >> 32;
	e->sender_tid = (__u32)id;
	e->sender_mntns = sender_mntns;
	bpf_get_current_comm(&e->sender_comm, sizeof(e->sender_comm));
	submit(e, sizeof(*e), rec);
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
	if (is_host(mntns))
		return 0;
	enum record rec = RECORD_NOW;
	if (!is_init(BPF_CORE_READ(t, tgid)) && !(rec = recorded(mntns)))
		return 0;
	if (!allow(mntns))
		return 0;

	struct event *e = reserve_signal(EVENT_SIGNAL_DELIVER, sig, t, mntns);
	if (!e)
		return 0;
	unsigned long handler = (unsigned long)BPF_CORE_READ(ka, sa.sa_handler);
	e->disposition = handler == 0 ? DISPOSITION_DEFAULT : handler == 1 ? DISPOSITION_IGNORED : DISPOSITION_HANDLER;
	// Every thread of a group that is exiting dequeues a SIGKILL; the
	// group's size tells user space how many deliveries make its row whole.
	e->threads = (__u32)BPF_CORE_READ(t, signal, nr_threads);
	submit(e, sizeof(*e), rec);
	return 0;
}
