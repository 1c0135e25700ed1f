/* Minimal kernel types for graceline's CO-RE programs.
 *
 * Only the fields the programs read are declared. preserve_access_index makes
 * clang record every access as a CO-RE relocation, so the loader resolves
 * each field's real offset from the running kernel's BTF: the layout here
 * does not have to match any kernel. A full bpftool-dumped vmlinux.h would
 * tie the committed object to the machine that generated it.
 */
#ifndef GRACELINE_VMLINUX_MIN_H
#define GRACELINE_VMLINUX_MIN_H

typedef unsigned char __u8;
typedef short int __s16;
typedef unsigned short int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef unsigned long long int __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum { BPF_ANY = 0, BPF_NOEXIST = 1 };
/* bpf_ringbuf_submit's flags and bpf_ringbuf_query's values (uapi/linux/bpf.h). */
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
};

struct super_block {
	unsigned int s_dev; /* dev_t, in the kernel's encoding */
};

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
};

struct dentry {
	struct dentry *d_parent;
	struct inode *d_inode;
};

struct path {
	struct dentry *dentry;
};

struct file {
	struct path f_path;
};

struct linux_binprm {
	struct file *file;
};

typedef void (*__sighandler_t)(int);

struct sigaction {
	__sighandler_t sa_handler;
};

struct k_sigaction {
	struct sigaction sa;
};

/* A thread group's shared state: how many threads it has. */
struct signal_struct {
	int nr_threads;
};

struct task_struct {
	int pid;
	int tgid;
	int exit_code;
	char comm[16];
	struct task_struct *real_parent;
	struct nsproxy *nsproxy;
	struct mm_struct *mm;
	struct signal_struct *signal;
};

/* cgroup_rmdir's subject. A cgroup's id is its kernfs node's id, which on
 * 64-bit kernels is also its directory's inode number. */
struct kernfs_node {
	__u64 id;
};

struct cgroup_root {
	int hierarchy_id;
};

struct cgroup {
	int level;
	struct kernfs_node *kn;
	struct cgroup_root *root;
};

/* sys_enter's registers. Two flavours name the argument registers of
 * x86-64 and arm64; the program asks which one the running kernel has, so
 * one object serves both. */
struct pt_regs___x86 {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
};

struct pt_regs___arm64 {
	unsigned long regs[31];
};

#pragma clang attribute pop

#endif
