//go:build ignore

// The process group: process exits, and execs that enter a container from
// outside (ExecSync, so preStop hooks, and kubectl exec). Each event is
// tagged with the mount-namespace inode of the process, which user space
// maps to a container; host processes are dropped here, and the exits of a
// container's other processes outside its window (see recorded in
// graceline.h). The execs of CNI
// plugins are left to the CNI group, which shares the cni_dirs map.

#include "vmlinux_min.h"
#include "graceline.h"
#include "cni_dirs.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;  // EVENT_EXIT or EVENT_EXEC
	__u32 pid;   // thread-group id
	__u32 tid;
	__u32 mntns;
	__u32 leader;      // exit: the thread-group leader
	__u32 exit_code;   // exit: raw task->exit_code, (status << 8) | signal
	__u32 parent_mntns; // exec
	__u32 argv_len;     // exec: bytes in argv
	char comm[TASK_COMM_LEN];
	char argv[ARGV_LEN];
};

// Force the emission of the event type into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));

static __always_inline struct event *reserve_process(__u32 type, struct task_struct *t, __u32 mntns)
{
	struct event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->mntns = mntns;
	e->leader = 0;
	e->exit_code = 0;
	e->parent_mntns = 0;
	e->argv_len = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	e->argv[0] = 0;
	return e;
}

// sched_process_exit(struct task_struct *p, bool group_dead) runs before the
// task releases its namespaces, so its mount namespace is still readable.
SEC("raw_tracepoint/sched_process_exit")
int sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	__u32 mntns = task_mntns(t);
	if (is_host(mntns))
		return 0;
	// The exits of a container's other processes (a shell loop's every
	// command) are wanted only in its window, or as its history. The
	// init's exit opens the window, as user space's policy does: the
	// kernel kills the others next.
	__u32 tgid = BPF_CORE_READ(t, tgid);
	enum record rec = RECORD_NOW;
	if (is_init(tgid)) {
		if (tgid == BPF_CORE_READ(t, pid))
			open_window(mntns);
	} else if (!(rec = recorded(mntns))) {
		return 0;
	}
	if (!allow(mntns))
		return 0;

	struct event *e = reserve_process(EVENT_EXIT, t, mntns);
	if (!e)
		return 0;
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->leader = e->pid == e->tid;
	submit(e, sizeof(*e), rec);
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
	// Cheapest reject first: most execs on a node are host processes'
	// (one read with the init_nsproxy shortcut), then those that stay in
	// their parent's namespace. A CNI plugin runs on the host, so the
	// lookup of its directory is only left for the rare exec that passed
	// both; the token is spent last, on an exec that will be reported.
	__u32 mntns = task_mntns(t);
	if (is_host(mntns))
		return 0;
	__u32 parent_mntns = task_mntns(BPF_CORE_READ(t, real_parent));
	// A parent with no namespace left is exiting: the task is the orphan
	// of a container's init that died while the task was in execve (a
	// shell loop's command), and the kernel is about to kill it. It came
	// from nowhere. Taken for an exec from outside, it would also end its
	// container in user space, as the first sign of a new namespace on
	// the inode, and its own SIGKILL and exit would be left without a pod.
	if (mntns == parent_mntns || parent_mntns == 0 || is_cni_plugin(bprm) || !allow(mntns))
		return 0;

	struct event *e = reserve_process(EVENT_EXEC, t, mntns);
	if (!e)
		return 0;
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
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
}
