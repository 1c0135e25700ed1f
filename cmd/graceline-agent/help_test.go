package main

import (
	"regexp"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// snakeWord finds the words of the help text that look like kinds.
var snakeWord = regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`)

// TestHelpNamesTheAgentsKinds keeps the help text's account of what the
// agent writes equal to api/v1's kind table: every kind of the node side is
// named, and every kind-like word is a kind of the node side.
func TestHelpNamesTheAgentsKinds(t *testing.T) {
	long := newCommand().Long
	for _, k := range apiv1.Kinds() {
		if k.Side != apiv1.SideNode {
			continue
		}
		if !regexp.MustCompile(`(?:^|[^a-z_-])` + k.Name + `(?:$|[^a-z_-])`).MatchString(long) {
			t.Errorf("graceline-agent --help does not name kind %s", k.Name)
		}
	}
	for _, w := range snakeWord.FindAllString(long, -1) {
		if k, ok := apiv1.LookupKind(w); !ok || k.Side != apiv1.SideNode {
			t.Errorf("graceline-agent --help names %s, which is not a kind the agent writes", w)
		}
	}
}
