package termination

//go:generate go tool bpf2go -tags linux -type event -type cni_exec -type cni_output -type cgroup_rmdir_event -target bpfel termination termination.c -- -I../headers -O2 -g -Wall -Werror
