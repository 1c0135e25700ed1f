package signals

//go:generate go tool bpf2go -tags linux -type event -target bpfel signals signals.c -- -I../headers -O2 -g -Wall -Werror
