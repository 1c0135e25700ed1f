package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// push sends the index in archive, with every image and blob it names, to
// ref, and prints the digest the registry now serves it by.
func push(ctx context.Context, archive, ref string, w io.Writer) error {
	dst, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("parse reference: %w", err)
	}
	dir, err := os.MkdirTemp("", "graceline-push-")
	if err != nil {
		return fmt.Errorf("create unpack dir: %w", err)
	}
	defer os.RemoveAll(dir)
	idx, _, err := readArchive(archive, dir)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(dst, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("digest index: %w", err)
	}
	fmt.Fprintf(w, "%s@%s\n", dst.Context(), d)
	return nil
}
