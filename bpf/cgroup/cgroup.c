//go:build ignore

// The cgroup group: removed cgroup directories, but only those user space
// asked for by id, the ones of stopped containers and sandboxes whose
// removal it is waiting for.

#include "vmlinux_min.h"
#include "graceline.h"

char __license[] SEC("license") = "Dual MIT/GPL";

// A removed cgroup's path is sent up to CGROUP_PATH_LEN bytes, NUL included.
#define CGROUP_PATH_LEN 256
#define CGROUP_FLAG_PATH_TRUNCATED 1

// event carries a removed cgroup directory (EVENT_CGROUP_RMDIR).
struct event {
	__u64 ts_ns; // CLOCK_MONOTONIC
	__u32 type;
	__s32 hierarchy; // the hierarchy's id: 0 is cgroup v2's
	__u64 id;        // the cgroup's kernfs id: its directory's inode number
	__u32 flags;     // CGROUP_FLAG_*
	__u32 path_len;  // bytes in path, NUL excluded
	char path[CGROUP_PATH_LEN]; // from the hierarchy's root, e.g. /k8s.io/abc
};

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

// Force the emission of the event type into BTF for bpf2go -type.
const struct event *unused_event __attribute__((unused));

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
	struct event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
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
	submit(e, sizeof(*e), RECORD_NOW);
	return 0;
}
