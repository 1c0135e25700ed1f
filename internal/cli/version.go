package cli

import (
	"github.com/spf13/cobra"

	"github.com/graceline/graceline/internal/version"
)

// AddVersion gives cmd a --version flag that prints "NAME VERSION
// (revision R)" on stdout and exits 0. The flag is declared here rather
// than left to cobra so that it has no -v shorthand, which kubectl users
// know as verbosity.
func AddVersion(cmd *cobra.Command) {
	cmd.Version = version.Get().String()
	cmd.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	cmd.Flags().Bool("version", false, "print the version and exit")
}
