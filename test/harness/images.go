package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Images the harness builds locally; there is no registry to pull from.
const (
	BusyboxImage = "localhost/graceline/busybox:test"
	PauseImage   = "localhost/graceline/pause:test"
	// BusyboxStopSignalImage is the busybox image with STOPSIGNAL
	// BusyboxStopSignal, which the runtime sends instead of SIGTERM. It is
	// in the busybox tarball, beside BusyboxImage, sharing its layer.
	BusyboxStopSignalImage = "localhost/graceline/busybox-stopsignal:test"
	BusyboxStopSignal      = "SIGUSR1"
)

// busyboxApplets are linked to /bin/busybox in the test image.
var busyboxApplets = []string{"sh", "sleep", "echo", "cat", "true", "false", "kill", "ps", "ls"}

// file is one entry of an image layer.
type file struct {
	name string
	mode int64
	data []byte
	link string // symlink target, if a symlink
}

// BuildImages writes OCI image-layout tarballs for the busybox and pause
// images into dir and returns their paths.
func BuildImages(ctx context.Context, root, dir string) (busybox, pause string, err error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", "", fmt.Errorf("read busybox (Debian busybox-static): %w", err)
	}
	storm, err := buildStatic(ctx, root, dir, "storm")
	if err != nil {
		return "", "", err
	}
	files := []file{{name: "bin/busybox", mode: 0o755, data: bb}, {name: "bin/storm", mode: 0o755, data: storm}, {name: "tmp/", mode: 0o1777}}
	for _, a := range busyboxApplets {
		files = append(files, file{name: "bin/" + a, link: "busybox"})
	}
	busybox = filepath.Join(dir, "busybox.tar")
	if err := writeLayout(busybox, files, layoutImage{ref: BusyboxImage, entrypoint: []string{"/bin/sh"}},
		layoutImage{ref: BusyboxStopSignalImage, entrypoint: []string{"/bin/sh"}, stopSignal: BusyboxStopSignal}); err != nil {
		return "", "", err
	}

	pb, err := buildStatic(ctx, root, dir, "pause")
	if err != nil {
		return "", "", err
	}
	pause = filepath.Join(dir, "pause.tar")
	if err := writeLayout(pause, []file{{name: "pause", mode: 0o755, data: pb}}, layoutImage{ref: PauseImage, entrypoint: []string{"/pause"}}); err != nil {
		return "", "", err
	}
	return busybox, pause, nil
}

// buildStatic builds the harness program test/harness/<name> as a static
// binary and returns its bytes.
func buildStatic(ctx context.Context, root, dir, name string) ([]byte, error) {
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./test/harness/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %w: %s", name, err, b)
	}
	return os.ReadFile(out)
}

// layoutImage is one image of a layout: its name and its configuration.
type layoutImage struct {
	ref        string
	entrypoint []string
	stopSignal string
}

// writeLayout writes images of one layer of files in OCI image-layout form
// as a tar.
func writeLayout(path string, files []file, images ...layoutImage) error {
	layer, diffID, err := layerTarGz(files)
	if err != nil {
		return fmt.Errorf("build layer for %s: %w", images[0].ref, err)
	}
	blobs := [][]byte{layer}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, img := range images {
		cfg := ocispec.Image{
			Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
			Config:   ocispec.ImageConfig{Entrypoint: img.entrypoint, Env: []string{"PATH=/bin"}, StopSignal: img.stopSignal},
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		}
		cfgJSON, _ := json.Marshal(cfg)
		manifest := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    descriptor(ocispec.MediaTypeImageConfig, cfgJSON),
			Layers:    []ocispec.Descriptor{descriptor(ocispec.MediaTypeImageLayerGzip, layer)},
		}
		manJSON, _ := json.Marshal(manifest)
		manDesc := descriptor(ocispec.MediaTypeImageManifest, manJSON)
		manDesc.Annotations = map[string]string{ocispec.AnnotationRefName: img.ref}
		manDesc.Platform = &cfg.Platform
		index.Manifests = append(index.Manifests, manDesc)
		blobs = append(blobs, cfgJSON, manJSON)
	}
	indexJSON, _ := json.Marshal(index)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	add(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", indexJSON)
	for _, b := range blobs {
		add("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func descriptor(mediaType string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// layerTarGz returns the gzipped layer and the digest of its uncompressed tar.
func layerTarGz(files []file) ([]byte, digest.Digest, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: time.Unix(0, 0)}
		switch {
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		case f.name[len(f.name)-1] == '/':
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, "", err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID := digest.FromBytes(raw.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

// ImportImages imports image-layout tarballs into containerd's k8s.io
// namespace and unpacks them for the CRI plugin's snapshotter.
func ImportImages(ctx context.Context, address string, tarballs ...string) error {
	c, err := client.New(address, client.WithDefaultNamespace("k8s.io"))
	if err != nil {
		return fmt.Errorf("connect to containerd %s: %w", address, err)
	}
	defer c.Close()
	for _, path := range tarballs {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		imgs, err := c.Import(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		for _, img := range imgs {
			if err := client.NewImage(c, img).Unpack(ctx, "overlayfs"); err != nil {
				return fmt.Errorf("unpack %s: %w", img.Name, err)
			}
		}
	}
	return nil
}
