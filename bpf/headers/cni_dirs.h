/* The CNI bin directories, shared by the process group (which leaves CNI
 * plugins' execs to the CNI group) and the CNI group (which follows them).
 * User space creates the map once and hands it to both objects. */
#ifndef GRACELINE_CNI_DIRS_H
#define GRACELINE_CNI_DIRS_H

/* cni_dir_key names a directory by device (the kernel's dev_t encoding)
 * and inode. */
struct cni_dir_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* A process exec'd from a file in one of these directories is a CNI
 * plugin. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct cni_dir_key);
	__type(value, __u8);
} cni_dirs SEC(".maps");

/* is_cni_plugin says whether the file being exec'd lives in a CNI bin
 * directory. bprm->file is the file actually run: a symlink is resolved,
 * so the directory is the one the link points into. */
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

#endif /* GRACELINE_CNI_DIRS_H */
