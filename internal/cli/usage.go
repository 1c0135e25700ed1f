// Package cli is what graceline's three commands share at the terminal:
// usage errors and their exit status, one-line error messages, and
// escaping of text that came from a workload.
package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/graceline/graceline/internal/setting"
)

// Exit statuses. A usage error is told apart from a failure so that a
// script, or a crash-looping pod's operator, sees at once that the command
// line is at fault rather than the environment.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitFindings is a command that ran well and found what its caller
	// asked it to fail on, as `check --fail-on-kill` does in a pipeline.
	ExitFindings = 3
)

// FindingsError is what a command found that its caller asked it to fail
// on; the command's output has already said what.
type FindingsError struct{ Msg string }

func (e *FindingsError) Error() string { return e.Msg }

// UsageError is a bad command line: an unknown flag, a value outside what
// its flag accepts, a missing or stray argument.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the error that made the command line bad.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message, which should name
// the flag and what it accepts.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// OneOf refuses a value of flag that is not one of accepted, listing them.
func OneOf(flag, value string, accepted ...string) error {
	for _, a := range accepted {
		if value == a {
			return nil
		}
	}
	return Usagef("--%s %q: want %s", flag, value, List(accepted))
}

// List joins values the way a person would: "a, b or c".
func List(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// Flags maps the names of settings, as a package's validation reports them
// (setting.Error.Name), to the flags that set them.
type Flags map[string]string

// Check turns a setting error into a usage error that names its flag.
// Other errors, and nil, pass unchanged. A setting without a flag keeps
// its Go name: it is still the command line's fault.
func (f Flags) Check(err error) error {
	var e *setting.Error
	if !errors.As(err, &e) {
		return err
	}
	name := e.Name
	if flag, ok := f[e.Name]; ok {
		name = "--" + flag
	}
	return &UsageError{Err: &setting.Error{Name: name, Value: e.Value, Want: e.Want}}
}
