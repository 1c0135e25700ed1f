package format

import (
	"strings"

	"github.com/graceline/graceline/internal/cli"
)

// Row is one row of a table for text/tabwriter: the cells escaped for a
// terminal and joined by tabs. Escaping each cell first keeps a tab or a
// newline in a pod's, a node's or a container's name from making a column
// or a row of its own.
func Row(cells ...string) string {
	for i, c := range cells {
		cells[i] = cli.Escape(c)
	}
	return strings.Join(cells, "\t")
}

// Line escapes a line of text output for a terminal; every printer passes
// what it did not write itself through here or through Row.
func Line(s string) string { return cli.Escape(s) }
