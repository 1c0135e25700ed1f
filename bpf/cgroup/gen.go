package cgroup

//go:generate go tool bpf2go -tags linux -type event -target bpfel cgroup cgroup.c -- -I../headers -O2 -g -Wall -Werror
