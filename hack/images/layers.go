package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The collector's user. 65532 is the uid the Deployment's securityContext
// sets (distroless's "nonroot", which the Dockerfiles used).
const (
	collectorUID = 65532
	userName     = "graceline"
)

// passwd and group name root, the collector's user and nobody. Their shell
// does not exist: the images have none.
var (
	passwd = fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		userName, collectorUID, collectorUID, userName, userName)
	group = fmt.Sprintf("root:x:0:\n%s:x:%d:\nnobody:x:65534:\n", userName, collectorUID)
)

// entry is one file or directory of a layer.
type entry struct {
	name     string
	mode     int64
	uid      int
	data     []byte // nil for a directory
	isDir    bool
	fromPath string // read data from here instead
}

// baseLayer is what both images share below their binary: CA
// certificates for TLS to the API server and the collector, the users, a
// home for the collector's user and a /tmp. There is no shell, libc or
// package manager.
func baseLayer(caBundle string, mtime time.Time) (v1.Layer, error) {
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	return layer(mtime, []entry{
		{name: "etc/", mode: 0o755, isDir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", mode: 0o755, isDir: true},
		{name: "home/" + userName + "/", mode: 0o700, uid: collectorUID, isDir: true},
		{name: "root/", mode: 0o700, isDir: true},
		{name: "tmp/", mode: 0o1777, isDir: true},
	})
}

// binaryLayer holds one command at /usr/local/bin/<name>.
func binaryLayer(path, name string, mtime time.Time) (v1.Layer, error) {
	return layer(mtime, []entry{
		{name: "usr/", mode: 0o755, isDir: true},
		{name: "usr/local/", mode: 0o755, isDir: true},
		{name: "usr/local/bin/", mode: 0o755, isDir: true},
		{name: "usr/local/bin/" + name, mode: 0o755, fromPath: path},
	})
}

// layer writes entries, in the order given, into a tar whose every header
// is fixed (owner by number only, one time for all) so that the same
// inputs give the same digest, and makes it a gzip OCI layer.
func layer(mtime time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		data := e.data
		if e.fromPath != "" {
			var err error
			if data, err = os.ReadFile(e.fromPath); err != nil {
				return nil, fmt.Errorf("read layer file: %w", err)
			}
		}
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if e.isDir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write layer: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("write layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
