package process

//go:generate go tool bpf2go -tags linux -type event -target bpfel process process.c -- -I../headers -O2 -g -Wall -Werror
