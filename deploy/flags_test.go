package deploy

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// binaries maps the image each container runs to the command built from
// cmd/<name>; a container of any other image is not graceline's, and its
// arguments are not checked.
var binaries = map[string]string{
	"ghcr.io/graceline/graceline-agent":     "graceline-agent",
	"ghcr.io/graceline/graceline-collector": "graceline-collector",
}

// build compiles the agent and the collector into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var pkgs []string
	for _, b := range binaries {
		pkgs = append(pkgs, "./cmd/"+b)
	}
	slices.Sort(pkgs)
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

var flagName = regexp.MustCompile(`--[a-z0-9][a-z0-9-]*`)

// cniDefault finds the default of --cni-bin-dir in the agent's --help, as
// pflag prints a string list: (default [a,b,c]).
var cniDefault = regexp.MustCompile(`--cni-bin-dir strings .*\(default \[([^\]]*)\]\)`)

// helpText runs a binary with --help and returns what it prints.
func helpText(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", bin, err, out)
	}
	return string(out)
}

// helpFlags runs a binary with --help and returns every flag it lists.
func helpFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out := helpText(t, bin)
	flags := map[string]bool{}
	for _, f := range flagName.FindAllString(out, -1) {
		flags[f] = true
	}
	if !flags["--help"] {
		t.Fatalf("%s --help lists no flags:\n%s", bin, out)
	}
	return flags
}

// TestFlagsExist checks every flag the manifests pass against the --help of
// the binary that gets it, for every variant and both tools, so that a
// renamed or removed flag fails here instead of crash-looping on a node.
func TestFlagsExist(t *testing.T) {
	dir := build(t)
	help := map[string]map[string]bool{}
	for _, b := range binaries {
		help[b] = helpFlags(t, filepath.Join(dir, b))
	}
	eachRendering(t, func(t *testing.T, r *rendering) {
		t.Run("every flag the manifests pass is one their binary lists", func(t *testing.T) {
			seen := 0
			for _, p := range r.pods() {
				for _, c := range containers(p.spec) {
					repo, _, _ := strings.Cut(c.Image, ":")
					bin, ours := binaries[repo]
					if !ours {
						continue
					}
					if len(c.Command) > 0 {
						t.Errorf("%s/%s overrides the image's entrypoint with %v", p.owner, c.Name, c.Command)
					}
					for _, a := range c.Args {
						name, _, _ := strings.Cut(a, "=")
						if !strings.HasPrefix(name, "--") {
							t.Errorf("%s/%s: argument %q is not a --flag", p.owner, c.Name, a)
							continue
						}
						if !help[bin][name] {
							t.Errorf("%s/%s: %s --help has no %s", p.owner, c.Name, bin, name)
						}
						seen++
					}
				}
			}
			if seen == 0 {
				t.Error("no graceline container with flags was found")
			}
		})
	})
	t.Run("the CNI bin dirs mounted by default are the agent's own default", func(t *testing.T) {
		m := cniDefault.FindStringSubmatch(helpText(t, filepath.Join(dir, "graceline-agent")))
		if m == nil {
			t.Fatal("graceline-agent --help shows no default for --cni-bin-dir")
		}
		if got := strings.Split(m[1], ","); !slices.Equal(got, defaultCNIBinDirs) {
			t.Errorf("the agent defaults to %v, the manifests mount %v", got, defaultCNIBinDirs)
		}
	})
	t.Run("a flag the binary lacks is caught", func(t *testing.T) {
		if help["graceline-agent"]["--runtime-endpoint"] || help["graceline-collector"]["--db"] {
			t.Error("help parsing accepts flags that do not exist")
		}
	})
}
