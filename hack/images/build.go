package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The names the manifests run the images by (deploy/kustomize/base, the
// chart's values), and where the sources are.
const (
	defaultRepository = "ghcr.io/graceline"
	defaultSource     = "https://github.com/graceline/graceline"
)

// image is one of graceline's images.
type image struct {
	// name is the command, the image's name, and the binary's.
	name string
	// user is the image's default user as uid:gid. The agent's is root,
	// as the DaemonSet sets (Kubernetes grants added capabilities only to
	// uid 0); the collector's is the Deployment's non-root user.
	user string
}

var images = []image{
	{name: "graceline-agent", user: "0:0"},
	{name: "graceline-collector", user: fmt.Sprintf("%d:%d", collectorUID, collectorUID)},
}

// platforms are the index's; the committed eBPF objects are little-endian,
// which both are.
var platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
}

// buildOptions say what to build and how to name and label it.
type buildOptions struct {
	out, root, repository, version, revision, source, caBundle string
	created                                                    time.Time
}

// reference is an image's name and tag, as the manifests write it.
func (o buildOptions) reference(name string) string {
	return o.repository + "/" + name + ":" + o.version
}

// labels are the OCI annotations each image's config and index carry.
func (o buildOptions) labels(name string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    name,
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.created":  o.created.Format(time.RFC3339),
	}
}

// build compiles the commands for every platform and writes one archive
// per image into o.out, printing each one's reference and digest.
func build(ctx context.Context, o buildOptions, w io.Writer) error {
	tmp, err := os.MkdirTemp("", "graceline-images-")
	if err != nil {
		return fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	var names []string
	for _, img := range images {
		names = append(names, img.name)
	}
	base, err := baseLayer(o.caBundle, o.created)
	if err != nil {
		return err
	}
	for _, p := range platforms {
		if err := compile(ctx, o.root, filepath.Join(tmp, p.Architecture), p.Architecture, o.version, o.revision, names...); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	for _, img := range images {
		idx, err := index(o, img, base, tmp)
		if err != nil {
			return err
		}
		path := filepath.Join(o.out, img.name+".tar")
		if err := writeArchive(idx, o.reference(img.name), path, o.created); err != nil {
			return err
		}
		d, err := idx.Digest()
		if err != nil {
			return fmt.Errorf("digest %s index: %w", img.name, err)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", o.reference(img.name), d, path)
	}
	return nil
}

// index makes one image's index: an image per platform, with the binary
// compiled into binDir/<arch>/.
func index(o buildOptions, img image, base v1.Layer, binDir string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		bin, err := binaryLayer(filepath.Join(binDir, p.Architecture, img.name), img.name, o.created)
		if err != nil {
			return nil, err
		}
		i, err := platformImage(o, img, p, base, bin)
		if err != nil {
			return nil, fmt.Errorf("build %s for %s: %w", img.name, p.String(), err)
		}
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: i, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.Annotations(idx, o.labels(img.name)).(v1.ImageIndex), nil
}

// platformImage is one platform's image: the base and the binary, run as
// the image's user through an entrypoint, since the manifests pass only
// args.
func platformImage(o buildOptions, img image, p v1.Platform, base, bin v1.Layer) (v1.Image, error) {
	i := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	i, err := mutate.ConfigFile(i, &v1.ConfigFile{
		Architecture: p.Architecture,
		Variant:      p.Variant,
		OS:           p.OS,
		Created:      v1.Time{Time: o.created},
		Config: v1.Config{
			Entrypoint: []string{"/usr/local/bin/" + img.name},
			User:       img.user,
			Env:        []string{"PATH=/usr/local/bin"},
			WorkingDir: "/",
			Labels:     o.labels(img.name),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	i, err = mutate.Append(i,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "graceline images: CA certificates, passwd, group"}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "graceline images: /usr/local/bin/" + img.name}},
	)
	if err != nil {
		return nil, fmt.Errorf("add layers: %w", err)
	}
	return mutate.Annotations(i, o.labels(img.name)).(v1.Image), nil
}
