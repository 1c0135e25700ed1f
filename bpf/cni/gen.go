package cni

//go:generate go tool bpf2go -tags linux -type exec_event -type output_event -target bpfel cni cni.c -- -I../headers -O2 -g -Wall -Werror
