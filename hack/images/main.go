// Command images builds graceline's container images without Docker, and
// pushes them. make images runs its build; see the README for push.
//
//	images build --out _output/images --version 0.1.0 --revision <commit>
//	images push _output/images/graceline-agent.tar registry.example.com/graceline/graceline-agent:0.1.0
//
// Each image is an OCI image layout tarball holding one index for
// linux/amd64 and linux/arm64: the static binary on a base made from
// scratch (CA certificates, passwd and group, no shell). Two builds of one
// commit give the same bytes.
package main

import (
	"context"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/graceline/graceline/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := cli.Execute(ctx, newCommand(), os.Stderr)
	stop()
	os.Exit(code)
}

func newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build graceline's container images without Docker, and push them",
	}
	cmd.AddCommand(newBuildCommand(), newPushCommand())
	return cmd
}

func newBuildCommand() *cobra.Command {
	var o buildOptions
	var epoch string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the agent's and the collector's images as OCI layout tarballs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.version == "" || o.revision == "" {
				return cli.Usagef("--version and --revision are both needed: they are the images' labels and what --version prints")
			}
			// No default to the current time: a build stamped with it
			// would never be reproduced.
			secs, err := strconv.ParseInt(epoch, 10, 64)
			if err != nil {
				return cli.Usagef("--source-date-epoch %q: want the commit's time in seconds since 1970 (git log -1 --format=%%ct)", epoch)
			}
			o.created = time.Unix(secs, 0).UTC()
			return build(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "_output/images", "directory to write <image>.tar into")
	f.StringVar(&o.root, "root", ".", "the graceline module's root")
	f.StringVar(&o.repository, "repository", defaultRepository, "registry and path the images are named under, as the manifests name them")
	f.StringVar(&o.version, "version", "", "release version: the images' tag, label and what the binaries' --version prints")
	f.StringVar(&o.revision, "revision", "", "commit the images are built from")
	f.StringVar(&o.source, "source", defaultSource, "org.opencontainers.image.source label")
	f.StringVar(&o.caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates to put in the images (Debian's ca-certificates)")
	f.StringVar(&epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "the images' creation time and every file's time, in seconds since 1970 (default $SOURCE_DATE_EPOCH)")
	return cmd
}

func newPushCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "push ARCHIVE REFERENCE",
		Short: "Push an image's index, both platforms, from its tarball to a registry",
		Long: `push sends the index in an OCI layout tarball written by build, with both
platforms' images, to REFERENCE (registry/repository:tag). Credentials come
from the Docker config (~/.docker/config.json, as docker login or crane auth
login write it).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return push(cmd.Context(), args[0], args[1], cmd.OutOrStdout())
		},
	}
}
