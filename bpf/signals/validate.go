package signals

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/internal/setting"
)

// MaxSignal is the highest signal the probe can trace: the programs keep
// the traced signals in a 64-bit mask, one bit per number, so Linux's
// signal 64 (SIGRTMAX) does not fit.
const MaxSignal = 63

// SignalsWanted says which signals Config.Signals and ParseSignal accept.
var SignalsWanted = "a number from 1 to " + strconv.Itoa(MaxSignal) + " or a name (SIGTERM or TERM): " + signalNames()

// Validate checks that every signal fits the probe's mask.
func (c Config) Validate() error {
	for _, s := range c.Signals {
		if s < 1 || s > MaxSignal {
			return setting.Invalid("Signals", int(s), SignalsWanted)
		}
	}
	return nil
}

// ParseSignal reads a signal as a person writes it: TERM, SIGTERM, sigterm
// or 15. A number is not checked here; Validate bounds it.
func ParseSignal(s string) (syscall.Signal, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if num, err := strconv.Atoi(name); err == nil {
		return syscall.Signal(num), nil
	}
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n := unix.SignalNum(name); n != 0 {
		return n, nil
	}
	return 0, setting.Invalid("Signals", s, SignalsWanted)
}

// signalNames lists the standard signals' names without their SIG prefix.
func signalNames() string {
	var names []string
	for s := syscall.Signal(1); s < 32; s++ {
		if name := unix.SignalName(s); name != "" {
			names = append(names, strings.TrimPrefix(name, "SIG"))
		}
	}
	return strings.Join(names, ", ")
}
