package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refName annotates the index in index.json with the image's full
// reference: org.opencontainers.image.ref.name for skopeo and the OCI
// tools, io.containerd.image.name for ctr and containerd's import API.
var refName = []string{"org.opencontainers.image.ref.name", "io.containerd.image.name"}

// writeArchive writes idx as an OCI image layout (go-containerregistry's)
// and packs that directory into one tarball at path, with fixed headers,
// so that the same index gives the same bytes.
func writeArchive(idx v1.ImageIndex, ref, path string, mtime time.Time) error {
	dir, err := os.MkdirTemp("", "graceline-layout-")
	if err != nil {
		return fmt.Errorf("create layout dir: %w", err)
	}
	defer os.RemoveAll(dir)
	l, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	anns := map[string]string{}
	for _, k := range refName {
		anns[k] = ref
	}
	if err := l.AppendIndex(idx, layout.WithAnnotations(anns)); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	defer os.Remove(tmp)
	if err := packDir(f, dir, mtime); err != nil {
		f.Close()
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// packDir writes dir's files into w as a tar, in lexical order (WalkDir's),
// owned by root, with one time.
func packDir(w io.Writer, dir string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		h.Size = st.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readArchive unpacks a tarball written by writeArchive into dir and
// returns the image index inside it and its reference.
func readArchive(path, dir string) (v1.ImageIndex, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("read archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("read archive %s: %w", path, err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, "", fmt.Errorf("read archive %s: %q is outside the layout", path, h.Name)
		}
		if err := unpack(tr, h, filepath.Join(dir, name)); err != nil {
			return nil, "", fmt.Errorf("read archive %s: %w", path, err)
		}
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("read layout of %s: %w", path, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("read layout of %s: %w", path, err)
	}
	if len(m.Manifests) != 1 {
		return nil, "", fmt.Errorf("read layout of %s: %d entries in index.json, want one image index", path, len(m.Manifests))
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, "", fmt.Errorf("read layout of %s: %w", path, err)
	}
	return idx, m.Manifests[0].Annotations[refName[0]], nil
}

// unpack writes one tar entry, a directory or a regular file, to path.
func unpack(r io.Reader, h *tar.Header, path string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(path, 0o755)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("%q: type %c is not part of an image layout", h.Name, h.Typeflag)
}
