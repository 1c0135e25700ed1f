package oom

//go:generate go tool bpf2go -tags linux -type event -target bpfel oom oom.c -- -I../headers -O2 -g -Wall -Werror
