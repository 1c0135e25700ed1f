//go:build ignore

// The oom group: the OOM killer's victims, from the oom:mark_victim
// tracepoint. It is its own group rather than part of the signals group
// because it hangs off a different subsystem whose tracepoint changed its
// arguments across kernel versions: a kernel where it cannot be loaded
// keeps the signal probes and learns of OOM kills from the runtime alone.

#include "vmlinux_min.h"
#include "graceline.h"

char __license[] SEC("license") = "Dual MIT/GPL";

// event carries an OOM kill's victim (EVENT_OOM_VICTIM).
struct event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__u32 pid;   // the victim's thread-group id
	__u32 tid;
	__u32 mntns; // the victim's mount namespace
	__u32 trigger_pid;   // the current task: its allocation ran the OOM killer
	__u32 trigger_tid;
	__u32 trigger_mntns;
	__u32 pad;
	char comm[TASK_COMM_LEN];
	char trigger_comm[TASK_COMM_LEN];
};

// Force the emission of the event type into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));

// mark_victim(struct task_struct *task, uid_t uid) runs in the task whose
// allocation ran the OOM killer, right after the killer sent its victim
// SIGKILL (user space checks the prototype before loading: older kernels
// pass the victim's pid alone). There is no rate limit: the kernel kills
// at its own slow pace, and a container's signal storm must not spend the
// budget that would report its OOM kill.
SEC("raw_tracepoint/mark_victim")
int mark_victim(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *victim = (struct task_struct *)ctx->args[0];
	__u32 mntns = task_mntns(victim);
	if (is_host(mntns))
		return 0;
	// The kill opens the victim's window (its SIGKILL, sent just before,
	// did too): its other processes' ends are part of it.
	open_window(mntns);
	struct event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_OOM_VICTIM;
	e->pid = BPF_CORE_READ(victim, tgid);
	e->tid = BPF_CORE_READ(victim, pid);
	e->mntns = mntns;
	BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
	__u64 id = bpf_get_current_pid_tgid();
	e->trigger_pid = id >> 32;
	e->trigger_tid = (__u32)id;
	e->trigger_mntns = task_mntns((struct task_struct *)bpf_get_current_task());
	e->pad = 0;
	bpf_get_current_comm(&e->trigger_comm, sizeof(e->trigger_comm));
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
}
