//go:build ignore

// The CNI group: CNI plugin runs, the one kind of host process followed. A
// process exec'd from a CNI bin directory has its environment (CNI_COMMAND,
// CNI_CONTAINERID, ...), the first bytes it writes to stdout (where a CNI
// plugin reports its error) and its exit status sent up, so that a failing
// network teardown can be told with the plugin's own words.

#include "vmlinux_min.h"
#include "graceline.h"
#include "cni_dirs.h"

char __license[] SEC("license") = "Dual MIT/GPL";

// A CNI plugin's environment is read up to CNI_ENV_LEN bytes (its tail when
// longer), and its stdout up to CNI_OUT_LEN bytes in all.
#define CNI_ENV_LEN 8192
#define CNI_OUT_LEN 2048
#define CNI_FLAG_ENV_TRUNCATED 1

// exec_event carries a CNI plugin's start: its argv and its environment.
struct exec_event {
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

// output_event carries what a CNI plugin wrote to stdout (EVENT_CNI_OUTPUT)
// or how it exited (EVENT_CNI_EXIT).
struct output_event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__u32 pid;
	__u32 exit_code; // EVENT_CNI_EXIT: raw task->exit_code
	__u32 len;       // EVENT_CNI_OUTPUT: bytes in data
	char comm[TASK_COMM_LEN];
	char data[CNI_OUT_LEN];
};

// Set by the loader before the programs are loaded.
volatile const __u64 sys_write_nr = 1; // write(2)'s number on this architecture

// The CNI plugins running now, by thread-group id, with the stdout bytes
// already sent up.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} cni_procs SEC(".maps");

// cni_live counts the entries of cni_procs, so that the write and exit
// probes can return at once, without a map lookup, while no CNI plugin
// runs. An entry that the LRU evicts is never subtracted; that costs
// lookups, nothing else.
__u32 cni_live = 0;

// Force the emission of the event types into BTF for bpf2go -type.
const struct exec_event *unused_exec_event __attribute__((unused));
const struct output_event *unused_output_event __attribute__((unused));

// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
// sends up a CNI plugin's argv and environment, and follows the process
// until it exits. libcni puts the CNI_* variables into the plugin's
// environment, in no fixed order, so the whole environment is read; one
// larger than CNI_ENV_LEN is cut at its start (older libcni appended them).
SEC("raw_tracepoint/sched_process_exec")
int cni_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	if (!is_cni_plugin(bprm))
		return 0;
	__u32 mntns = task_mntns(t);
	if (!allow(mntns))
		return 0;
	struct exec_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
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
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
}

// sched_process_exit(struct task_struct *p, bool group_dead) sends up the
// exit of a followed CNI plugin: its thread-group leader's exit code, which
// is the group's after exit_group.
SEC("raw_tracepoint/sched_process_exit")
int cni_exit(struct bpf_raw_tracepoint_args *ctx)
{
	if (!cni_live)
		return 0;
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(t, tgid);
	if (tgid != (__u32)BPF_CORE_READ(t, pid) || !bpf_map_lookup_elem(&cni_procs, &tgid))
		return 0;
	if (bpf_map_delete_elem(&cni_procs, &tgid) == 0)
		__sync_fetch_and_add(&cni_live, -1);
	struct output_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = EVENT_CNI_EXIT;
	e->pid = tgid;
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->len = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
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
	struct output_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
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
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
}
