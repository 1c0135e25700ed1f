package main

import (
	"archive/tar"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/graceline/graceline/internal/cli/clitest"
)

// The stamp the test builds with; the epoch is 2023-11-14T22:13:20Z.
const (
	testVersion  = "9.9.9-imagetest"
	testRevision = "0123456789abcdef"
	testEpoch    = "1700000000"
)

// TestBuild runs the tool twice, as make images does, into two
// directories, and checks what a user and a registry get. The tool runs as
// its own process so that compressing the layers stays outside the race
// detector that make test runs this package under.
func TestBuild(t *testing.T) {
	tool, err := clitest.Build(t.TempDir(), "images")
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	for _, out := range []string{a, b} {
		cmd := exec.Command(tool, "build", "--out", out, "--root", "../..", "--version", testVersion, "--revision", testRevision, "--source-date-epoch", testEpoch)
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("images build: %v\n%s", err, o)
		}
	}
	for _, img := range images {
		archive := filepath.Join(a, img.name+".tar")
		t.Run(img.name+" is built the same twice", func(t *testing.T) {
			if x, y := fileDigest(t, archive), fileDigest(t, filepath.Join(b, img.name+".tar")); x != y {
				t.Errorf("two builds: %s and %s", x, y)
			}
		})
		idx, ref, err := readArchive(archive, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Run(img.name+" is named and labelled as released", func(t *testing.T) {
			if want := defaultRepository + "/" + img.name + ":" + testVersion; ref != want {
				t.Errorf("reference %q, want %q", ref, want)
			}
			m, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			checkLabels(t, "index", m.Annotations, img.name)
		})
		t.Run(img.name+" has an image for each platform, run as its user with no shell", func(t *testing.T) {
			m, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range m.Manifests {
				got = append(got, d.Platform.String())
				i, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, i, img, *d.Platform)
			}
			if strings.Join(got, " ") != "linux/amd64 linux/arm64/v8" {
				t.Errorf("platforms %v, want linux/amd64 and linux/arm64/v8", got)
			}
		})
		t.Run(img.name+" pushes to a registry whole", func(t *testing.T) {
			srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			defer srv.Close()
			ref := strings.TrimPrefix(srv.URL, "http://") + "/graceline/" + img.name + ":" + testVersion
			if o, err := exec.Command(tool, "push", archive, ref).CombinedOutput(); err != nil {
				t.Fatalf("images push: %v\n%s", err, o)
			}
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			pulled, err := remote.Index(r)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := idx.Digest()
			if got, _ := pulled.Digest(); got != want {
				t.Errorf("registry serves %s, built %s", got, want)
			}
		})
	}
}

// TestDefaultsNameTheManifestsImages: make images names the images as the
// kustomize base runs them, the chart's appVersion being the tag.
func TestDefaultsNameTheManifestsImages(t *testing.T) {
	chart, err := os.ReadFile("../../deploy/helm/graceline/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^appVersion: "?([^"\n]+)"?$`).FindSubmatch(chart)
	if m == nil {
		t.Fatal("Chart.yaml has no appVersion")
	}
	o := buildOptions{repository: defaultRepository, version: string(m[1])}
	for _, img := range images {
		base, err := os.ReadFile("../../deploy/kustomize/base/" + strings.TrimPrefix(img.name, "graceline-") + map[string]string{"graceline-agent": "-daemonset.yaml", "graceline-collector": "-deployment.yaml"}[img.name])
		if err != nil {
			t.Fatal(err)
		}
		if want := "image: " + o.reference(img.name) + "\n"; !strings.Contains(string(base), want) {
			t.Errorf("the kustomize base does not run %q", want)
		}
	}
}

// checkImage checks one platform's image: its config, and its files.
func checkImage(t *testing.T, i v1.Image, img image, p v1.Platform) {
	t.Helper()
	cf, err := i.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	bin := "/usr/local/bin/" + img.name
	if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.Variant != p.Variant {
		t.Errorf("%s: config says %s/%s/%s", p, cf.OS, cf.Architecture, cf.Variant)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != bin || cf.Config.Cmd != nil {
		t.Errorf("%s: entrypoint %q, cmd %q; want [%s] and none", p, cf.Config.Entrypoint, cf.Config.Cmd, bin)
	}
	if cf.Config.User != img.user {
		t.Errorf("%s: user %q, want %q", p, cf.Config.User, img.user)
	}
	if img.name == "graceline-collector" && strings.HasPrefix(cf.Config.User, "0") {
		t.Errorf("%s: the collector runs as root", p)
	}
	checkLabels(t, p.String()+" config", cf.Config.Labels, img.name)
	files := map[string][]byte{}
	tr := tar.NewReader(mutate.Extract(i))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := "/" + strings.TrimPrefix(h.Name, "/")
		files[n] = nil
		if n == bin || n == "/etc/passwd" || n == "/etc/ssl/certs/ca-certificates.crt" {
			if files[n], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := range files {
		if base := filepath.Base(n); base == "sh" || base == "bash" || base == "busybox" {
			t.Errorf("%s: has a shell, %s", p, n)
		}
	}
	if !strings.Contains(string(files["/etc/ssl/certs/ca-certificates.crt"]), "BEGIN CERTIFICATE") {
		t.Errorf("%s: no CA certificates", p)
	}
	uid, _, _ := strings.Cut(img.user, ":")
	if !regexp.MustCompile(`(?m)^[a-z]+:x:` + uid + `:`).Match(files["/etc/passwd"]) {
		t.Errorf("%s: /etc/passwd has no user %s:\n%s", p, uid, files["/etc/passwd"])
	}
	checkBinary(t, files[bin], img.name, p)
}

// checkBinary checks that the binary is built for p, and runs the amd64
// one: --version must print the stamp.
func checkBinary(t *testing.T, b []byte, name string, p v1.Platform) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %s is no ELF binary: %v", p, name, err)
	}
	machine := f.Machine
	f.Close()
	if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]; machine != want {
		t.Errorf("%s: %s is built for %s", p, name, machine)
	}
	if p.Architecture != "amd64" {
		return
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if want := fmt.Sprintf("%s %s (revision %s)\n", name, testVersion, testRevision); err != nil || string(out) != want {
		t.Errorf("%s --version: %v, %q; want %q", name, err, out, want)
	}
}

// checkLabels checks the OCI annotations of an index or a config.
func checkLabels(t *testing.T, where string, got map[string]string, name string) {
	t.Helper()
	want := map[string]string{
		"org.opencontainers.image.title":    name,
		"org.opencontainers.image.source":   defaultSource,
		"org.opencontainers.image.revision": testRevision,
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q", where, k, got[k], v)
		}
	}
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}
