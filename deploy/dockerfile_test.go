package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ op, args string }

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur += s + " "
			continue
		}
		cur += trimmed
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// goDirective matches go.mod's go line, keeping major.minor.
var goDirective = regexp.MustCompile(`(?m)^go (\d+\.\d+)`)

// goBuild matches the build step: output binary, then the package.
var goBuild = regexp.MustCompile(`CGO_ENABLED=0 .*go build .*-o /out/(\S+) \./cmd/(\S+)$`)

// TestDockerfiles checks what can be checked without a Docker daemon: each
// image builds its own command statically with the Go of go.mod, copies that
// binary into a static distroless image, runs it as the user the manifests
// expect, and is the image the manifests name.
func TestDockerfiles(t *testing.T) {
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := goDirective.FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	goMinor := string(m[1])
	cases := []struct {
		name, user, base string
	}{
		{"graceline-agent", "0:0", "gcr.io/distroless/static-debian12:latest"},
		{"graceline-collector", "65532:65532", "gcr.io/distroless/static-debian12:nonroot"},
	}
	for _, c := range cases {
		t.Run(c.name+" builds, copies and runs its own binary", func(t *testing.T) {
			ins := parseDockerfile(t, filepath.Join("docker", c.name+".Dockerfile"))
			var froms, runs, copies, users, entry []string
			for _, in := range ins {
				switch in.op {
				case "FROM":
					froms = append(froms, in.args)
				case "RUN":
					runs = append(runs, in.args)
				case "COPY":
					copies = append(copies, in.args)
				case "USER":
					users = append(users, in.args)
				case "ENTRYPOINT":
					entry = append(entry, in.args)
				}
			}
			if len(froms) != 2 || froms[0] != "golang:"+goMinor+" AS build" || froms[1] != c.base {
				t.Errorf("stages %q, want golang:%s AS build, then %s", froms, goMinor, c.base)
			}
			var built bool
			for _, r := range runs {
				if m := goBuild.FindStringSubmatch(r); m != nil {
					built = true
					if m[1] != c.name || m[2] != c.name {
						t.Errorf("builds ./cmd/%s into /out/%s, want %s", m[2], m[1], c.name)
					}
				}
			}
			if !built {
				t.Errorf("no static go build of ./cmd/%s in %q", c.name, runs)
			}
			if main, err := os.ReadFile(filepath.Join("..", "cmd", c.name, "main.go")); err != nil || !strings.Contains(string(main), "package main\n") {
				t.Errorf("../cmd/%s is not a main package: %v", c.name, err)
			}
			bin := "/usr/local/bin/" + c.name
			if want := "--from=build /out/" + c.name + " " + bin; len(copies) == 0 || copies[len(copies)-1] != want {
				t.Errorf("COPY %q, want the last to be %q", copies, want)
			}
			if len(entry) != 1 || entry[0] != `["`+bin+`"]` {
				t.Errorf("ENTRYPOINT %q, want [%q]", entry, bin)
			}
			if len(users) != 1 || users[0] != c.user {
				t.Errorf("USER %q, want %s", users, c.user)
			}
		})
	}
	eachRendering(t, func(t *testing.T, r *rendering) {
		t.Run("the manifests run the images these Dockerfiles build, as the users they set", func(t *testing.T) {
			for _, p := range r.pods() {
				for _, ct := range p.spec.Containers {
					repo, _, _ := strings.Cut(ct.Image, ":")
					name, ok := binaries[repo]
					if !ok || name != p.name {
						t.Errorf("%s: %s/%s runs %s, want the %s image", r, p.owner, ct.Name, ct.Image, p.name)
						continue
					}
					uid := runAsUser(p.spec, ct)
					want := map[string]int64{"graceline-agent": 0, "graceline-collector": 65532}[name]
					if uid == nil || *uid != want {
						t.Errorf("%s: %s/%s runs as %v, want %d as in its Dockerfile", r, p.owner, ct.Name, uid, want)
					}
				}
			}
		})
	})
}
