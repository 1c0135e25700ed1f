/* What every probe group's program shares: the event type numbers, the one
 * ring buffer all groups write to, the drop counters, and the per-namespace
 * rate limit with the host filter.
 *
 * Each group is its own object, but the maps declared here are created once
 * by user space (bpf/probe) and handed to every object in place of its own,
 * so that the events of all groups come out of one ring buffer in the order
 * they were reserved, and a container spends one budget across groups.
 */
#ifndef GRACELINE_H
#define GRACELINE_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define ARGV_LEN 256
#define NSEC_PER_SEC 1000000000ULL

/* Every record starts with __u64 ts_ns (CLOCK_MONOTONIC) and __u32 type,
 * one of these, which user space routes on to the group that sent it. */
enum event_type {
	EVENT_SIGNAL_GENERATE = 1,
	EVENT_SIGNAL_DELIVER = 2,
	EVENT_EXIT = 3,
	EVENT_EXEC = 4,
	EVENT_CNI_EXEC = 5,
	EVENT_CNI_OUTPUT = 6,
	EVENT_CNI_EXIT = 7,
	EVENT_CGROUP_RMDIR = 8,
	EVENT_OOM_VICTIM = 9,
};

enum drop_reason {
	DROP_RATE_LIMITED = 0,
	DROP_RINGBUF_FULL = 1,
	DROP_OUTSIDE_WINDOW = 2,
	DROP_EXITING_TARGET = 3,
	DROP_MAX = 4,
};

/* Set by the loader before the programs are loaded. */
volatile const __u32 host_mntns = 0;   // the host's mount namespace inode
volatile const __u32 include_host = 0; // keep host processes' events too
volatile const __u64 rate_per_sec = 1000;
volatile const __u64 burst = 2000;

struct bucket {
	__u64 tokens;
	__u64 last_ns;
};

/* One token bucket per mount namespace, so that a signal storm in one
 * container spends only that container's budget. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct bucket);
} buckets SEC(".maps");

/* The one ring buffer. User space sizes it (probe.Config.RingBytes). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);
	if (n)
		*n += 1;
}

/* The kernel's init_nsproxy (init_task's namespaces) and its mount
 * namespace's inode, learned once per object by learn_init_nsproxy. Most
 * host processes share that nsproxy, and it is static: never freed, so its
 * address can never come to mean another task's namespaces, and its mount
 * namespace is set once at boot. A task found to use it needs one read
 * instead of three, which is most of what a filtered-out host event costs. */
__u64 init_nsproxy = 0;
__u32 init_mntns = 0;
__u32 init_nsproxy_tried = 0;

/* The process tree is rarely deeper than this; a deeper first caller only
 * leaves the shortcut off. */
#define INIT_TASK_MAX_DEPTH 64

/* learn_init_nsproxy finds init_task by walking up from the current task
 * (init_task is its own real_parent) and caches its nsproxy. It tries
 * once: without kallsyms for data symbols there is no cheaper way to the
 * address, and a failed walk must not be paid for again on every event. */
static __noinline int learn_init_nsproxy(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	init_nsproxy_tried = 1;
	for (int i = 0; i < INIT_TASK_MAX_DEPTH && t; i++) {
		struct task_struct *parent = BPF_CORE_READ(t, real_parent);
		if (parent != t) {
			t = parent;
			continue;
		}
		struct nsproxy *np = BPF_CORE_READ(t, nsproxy);
		__u32 inum = BPF_CORE_READ(np, mnt_ns, ns.inum);
		if (np && inum) {
			init_mntns = inum;
			init_nsproxy = (__u64)np;
		}
		return 0;
	}
	return 0;
}

static __always_inline __u32 task_mntns(struct task_struct *t)
{
	if (!t)
		return 0;
	if (!init_nsproxy_tried)
		learn_init_nsproxy();
	struct nsproxy *np = BPF_CORE_READ(t, nsproxy);
	if (!np)
		return 0;
	/* init_mntns is written before init_nsproxy, but another CPU may see
	 * the stores in either order; a zero means "not yet", never a value. */
	__u32 cached = init_mntns;
	if ((__u64)np == init_nsproxy && cached)
		return cached;
	return BPF_CORE_READ(np, mnt_ns, ns.inum);
}

static __always_inline bool is_host(__u32 mntns)
{
	return !include_host && mntns == host_mntns;
}

/* allow spends a token of the namespace's bucket. The buckets are updated
 * without atomics: concurrent CPUs may over- or under-count a token, which a
 * rate limit tolerates. */
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

/* The recording policy's part in the kernel (agent/record holds the rule).
 * Outside its termination window, a container's processes other than its
 * init are left out here, but for one event every history_every_ns, which
 * user space keeps as the container's bounded history: a shell loop that
 * forks all day then costs the agent almost nothing. Signals from outside
 * the target's container, execs that enter it, and the inits' events always
 * pass. User space names the inits (their thread-group ids, in inits) and
 * the mount namespaces in a window (windows) as its policy decides; the
 * signs the kernel sees first (a stop signal from outside to an init, an
 * init's exit, an OOM kill) open the window here too, so that what follows
 * them at once is kept while user space catches up. */
volatile const __u32 record_all = 0; // --record all: no window filter
volatile const __u64 history_every_ns = 10 * NSEC_PER_SEC;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);  // mount-namespace inode
	__type(value, __u8); // 1
} windows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);  // thread-group id
	__type(value, __u8); // 1
} inits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   // mount-namespace inode
	__type(value, __u64); // when its last history event passed
} history SEC(".maps");

static __always_inline void open_window(__u32 mntns)
{
	__u8 one = 1;
	bpf_map_update_elem(&windows, &mntns, &one, BPF_ANY);
}

static __always_inline bool is_init(__u32 tgid)
{
	return bpf_map_lookup_elem(&inits, &tgid) != 0;
}

/* How an event of a container's other process passes the window filter. */
enum record {
	RECORD_NO = 0,      // left out and counted
	RECORD_NOW = 1,     // in a window: wanted at once
	RECORD_HISTORY = 2, // a history sample: wanted, but not urgently
};

/* recorded says whether an event of one of a container's other processes
 * is wanted: in a window, or as the container's history, at most one every
 * history_every_ns; the rest are counted. The host's processes, which
 * reach here only with include_host, are not a container's: they all pass. */
static __always_inline enum record recorded(__u32 mntns)
{
	if (record_all || mntns == host_mntns || bpf_map_lookup_elem(&windows, &mntns))
		return RECORD_NOW;
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&history, &mntns);
	if (last && now - *last < history_every_ns) {
		count_drop(DROP_OUTSIDE_WINDOW);
		return RECORD_NO;
	}
	bpf_map_update_elem(&history, &mntns, &now, BPF_ANY);
	return RECORD_HISTORY;
}

/* submit commits e, size bytes, which passed as rec. A history sample does
 * not wake the reader: it waits in the ring for the next event that does,
 * so that a hundred pods' forking loops do not wake the agent ten times a
 * second for events it only keeps. The ring wakes its reader only for a
 * record at the consumer's position, so any other event is forced to wake
 * it when more than itself is unconsumed: samples may be waiting before it,
 * and nothing else would wake the reader for them. */
static __always_inline void submit(void *e, __u64 size, enum record rec)
{
	if (rec == RECORD_HISTORY) {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		return;
	}
	// The ring's own record: an 8-byte header, rounded up to 8 bytes.
	__u64 own = (size + 8 + 7) & ~7ULL;
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > own ? BPF_RB_FORCE_WAKEUP : 0;
	bpf_ringbuf_submit(e, flags);
}

/* reserve takes size bytes of the ring buffer, or counts the drop. */
static __always_inline void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e)
		count_drop(DROP_RINGBUF_FULL);
	return e;
}

#endif /* GRACELINE_H */
