// Command storm sends itself a burst of signals that it handles, to test that
// a signal storm in one container cannot drown the others' events. It then
// waits to be stopped.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	n := flag.Int("n", 1000000, "signals to send")
	flag.Parse()
	hup := make(chan os.Signal, 1024)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
		}
	}()
	self := os.Getpid()
	for i := 0; i < *n; i++ {
		syscall.Kill(self, syscall.SIGHUP)
	}
	fmt.Println("storm done")
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	<-term
}
