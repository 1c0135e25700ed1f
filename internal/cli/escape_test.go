package cli

import (
	"encoding/json"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"Plain text is unchanged.", "nginx: worker process", "nginx: worker process"},
		{"Printable Unicode is unchanged.", "api→node Ünïcode 日本", "api→node Ünïcode 日本"},
		{"A backslash is unchanged.", `C:\x1b`, `C:\x1b`},
		{"ESC is escaped.", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"Newline, carriage return and tab are escaped by name.", "a\nb\rc\td", `a\nb\rc\td`},
		{"NUL, bell, form feed and vertical tab are escaped.", "\x00\x07\x0c\x0b", `\x00\x07\x0c\x0b`},
		{"DEL is escaped.", "a\x7fb", `a\x7fb`},
		{"C1 controls are escaped as code points.", "a\u009b2Jb\u0085", `a\u009b2Jb\u0085`},
		{"Invalid UTF-8 bytes are escaped one by one.", "a\xff\xc3b\x9b", `a\xff\xc3b\x9b`},
		{"Line separators and bidirectional overrides are escaped.", "a\u2028b\u202ec\u2066", `a\u2028b\u202ec\u2066`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEscapeJSON(t *testing.T) {
	tests := []struct {
		name, value string
		want        string
	}{
		{"Plain text is unchanged.", "web", `{"comm":"web"}`},
		{"DEL and C1 controls become \\u escapes.", "a\x7fb\u009bc", `{"comm":"a\u007fb\u009bc"}`},
		{"A bidirectional override becomes a \\u escape.", "a\u202eb", `{"comm":"a\u202eb"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(map[string]string{"comm": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			got := EscapeJSON(b)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			var back map[string]string
			if err := json.Unmarshal(got, &back); err != nil || back["comm"] != tt.value {
				t.Errorf("decoded %q (%v), want %q", back["comm"], err, tt.value)
			}
		})
	}
}
