package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape makes s safe to print on a terminal as part of one line. Strings
// that come from a workload (process names, argv, reasons, paths, CNI
// plugins' messages) could otherwise clear the screen, move the cursor,
// retitle the window or forge rows of a table. Escaped are the C0 controls
// (tab, newline and carriage return as \t, \n and \r, the rest and DEL as
// \xNN), the C1 controls as \u0080 to \u009f (terminals may act on them
// even in UTF-8), line and paragraph separators and the bidirectional
// overrides as \uNNNN (they can reorder what is shown), and each byte of
// invalid UTF-8 as \xNN. A backslash is left alone: paths and argv read
// better unchanged, and escaping only adds printable text.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeJSON escapes in JSON text what JSON itself leaves raw but a
// terminal may act on: DEL, the C1 controls, the line and paragraph
// separators and the bidirectional overrides, as \uNNNN. JSON already
// escapes the C0 controls; outside strings, JSON text is ASCII, so every
// rune replaced is inside a string and means the same once decoded.
func EscapeJSON(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == 0x7f || unsafeRune(r) {
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + size
		}
		i += size
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// firstUnsafe is the index of the first byte Escape changes, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports the runes above ASCII that act on a terminal or on
// the order text is shown in.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls, CSI (0x9b) among them
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c: // bidirectional controls
		return true
	}
	return false
}
