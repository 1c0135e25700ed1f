// Package record turns the bytes of a ring-buffer record into Go values:
// the record viewed as its C struct, and the strings, argument lists and
// exit codes in it. Every probe group decodes with it, so that a string
// from the kernel is made valid UTF-8 in one place.
package record

import (
	"bytes"
	"syscall"
	"unsafe"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// View views raw as the C struct T without copying it field by field. It
// refuses a record shorter than T, which a mismatched object would send.
// The view shares raw's memory, which the next ring-buffer read reuses.
func View[T any](raw []byte) (*T, bool) {
	var zero T
	if len(raw) < int(unsafe.Sizeof(zero)) {
		return nil, false
	}
	return (*T)(unsafe.Pointer(&raw[0])), true
}

// Bytes views a C char array as bytes.
func Bytes(s []int8) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s))
}

// Text is where every string of a kernel record becomes a Go string. The
// bytes are whatever the workload chose (a comm, argv, an environment, a
// path), and the contract's strings are UTF-8, so invalid sequences are
// replaced here and counted in *repaired.
func Text(b []byte, repaired *int) string {
	s, fixed := apiv1.ValidText(string(b))
	if fixed {
		*repaired++
	}
	return s
}

// CString reads a NUL-terminated C string from a char array.
func CString(s []int8, repaired *int) string {
	b := Bytes(s)
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return Text(b, repaired)
}

// SplitArgv splits the NUL-separated argument (or environment) area of a
// process.
func SplitArgv(b []byte, repaired *int) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = Text(p, repaired)
	}
	return out
}

// ExitCode splits a raw task exit code, (status << 8) | signal.
func ExitCode(code uint32) (int32, syscall.Signal) {
	return int32(code>>8) & 0xff, syscall.Signal(code & 0x7f)
}
