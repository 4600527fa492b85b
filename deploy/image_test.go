package deploy

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// TestBuildScript builds every service with deploy/build.sh, the command the
// Dockerfile runs, and checks the binary suits a distroless static image.
func TestBuildScript(t *testing.T) {
	const version = "v0.0.0-imagetest"
	for _, name := range repoServices(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // at most GOMAXPROCS builds at once (-parallel)
			bin := filepath.Join(t.TempDir(), name)
			cmd := exec.Command("sh", "build.sh", name, bin)
			cmd.Env = append(os.Environ(), "VERSION="+version)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build.sh %s: %v\n%s", name, err, out)
			}

			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("binary has a PT_INTERP header: it needs a dynamic loader, which distroless static lacks")
				}
			}
			if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
				t.Errorf("binary needs shared libraries %v (%v)", libs, err)
			}

			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["-trimpath"] != "true" {
				t.Errorf("-trimpath = %q, want true", settings["-trimpath"])
			}
			if settings["CGO_ENABLED"] != "0" {
				t.Errorf("CGO_ENABLED = %q, want 0", settings["CGO_ENABLED"])
			}
			// With -trimpath the build info leaves -ldflags out
			// (go.dev/issue/52372), so look for the stamped value itself:
			// -X main.version=... stores it as the variable's string data.
			if data, err := os.ReadFile(bin); err != nil || !bytes.Contains(data, []byte(version)) {
				t.Errorf("version %q is not stamped into the binary (%v)", version, err)
			}
			// Under go.work pkg would be a workspace module; GOWORK=off
			// takes it from the service's replace line.
			if i := slices.IndexFunc(info.Deps, func(m *debug.Module) bool { return m.Path == "github.com/feedloop/feedloop/pkg" }); i < 0 || info.Deps[i].Replace == nil {
				t.Error("pkg is not replaced by a local directory: built with go.work instead of GOWORK=off?")
			}

			// `probe` is the image's health check: it must check, not start
			// the service (which would fail on its missing API keys).
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed := ln.Addr().String()
			ln.Close()
			probe := exec.Command(bin, "probe")
			probe.Env = []string{"FEEDLOOP_GRPC_ADDR=" + closed}
			var stderr bytes.Buffer
			probe.Stderr = &stderr
			if err := probe.Run(); probe.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "health check of "+closed) {
				t.Errorf("%s probe with nothing listening: %v, stderr %q; want exit 1 from a failed health check", name, err, stderr.String())
			}
		})
	}
}

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// dockerStage is one FROM block of a Dockerfile.
type dockerStage struct {
	from, name string
	inst       []dockerInstruction
}

// parseDockerfile splits a Dockerfile into stages; ARGs before the first
// FROM are left out.
func parseDockerfile(text string) []*dockerStage {
	var stages []*dockerStage
	var line string
	for raw := range strings.Lines(text) {
		raw = strings.TrimSpace(raw)
		if raw == "" || strings.HasPrefix(raw, "#") { // also inside a continued instruction
			continue
		}
		if cont, ok := strings.CutSuffix(raw, `\`); ok {
			line += cont + " "
			continue
		}
		line += raw
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")}
		line = ""
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := &dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].inst = append(stages[len(stages)-1].inst, in)
		}
	}
	return stages
}

// all returns the arguments of every cmd instruction of the stage.
func (s *dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.inst {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// declares reports whether the stage has ARG name, with or without a default.
func (s *dockerStage) declares(name string) bool {
	return slices.ContainsFunc(s.all("ARG"), func(a string) bool { return a == name || strings.HasPrefix(a, name+"=") })
}

var labelPair = regexp.MustCompile(`([A-Za-z0-9._-]+)=("[^"]*"|\S+)`)

// TestDockerfile checks deploy/Dockerfile against each service: the build
// stage copies what the service's go.mod needs and runs build.sh, and the
// image is distroless static, non-root, labelled, with the probe as its
// health check.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(string(b))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and the image", len(stages))
	}
	build, image := stages[0], stages[1]

	// The build stage.
	if !strings.HasPrefix(build.from, "golang:") || build.name == "" {
		t.Errorf("build stage FROM %s AS %q, want a named golang stage", build.from, build.name)
	}
	for _, arg := range []string{"SERVICE", "VERSION"} {
		if !build.declares(arg) {
			t.Errorf("build stage lacks ARG %s", arg)
		}
	}
	workdir := "/"
	if w := build.all("WORKDIR"); len(w) > 0 {
		workdir = w[len(w)-1]
	}
	runs := build.all("RUN")
	if len(runs) != 1 {
		t.Fatalf("build stage RUNs %q, want one RUN of deploy/build.sh", runs)
	}
	run := strings.Fields(runs[0])
	i := slices.Index(run, "deploy/build.sh")
	if i < 0 || len(run) != i+3 {
		t.Fatalf("RUN %q does not run deploy/build.sh SERVICE OUTPUT", runs[0])
	}
	if arg := strings.Trim(run[i+1], `"`); arg != "${SERVICE}" && arg != "$SERVICE" {
		t.Errorf("build.sh is given service %s, want ${SERVICE}", run[i+1])
	}
	output := strings.Trim(run[i+2], `"`)
	if !strings.Contains(runs[0], "--mount=type=cache,target=/go/pkg/mod") {
		t.Errorf("RUN %q lacks the module cache mount (type=cache,target=/go/pkg/mod)", runs[0])
	}

	// The image.
	if !strings.HasPrefix(image.from, "gcr.io/distroless/static") || !strings.HasSuffix(image.from, ":nonroot") {
		t.Errorf("image FROM %s, want gcr.io/distroless/static...:nonroot", image.from)
	}
	if u := image.all("USER"); len(u) != 1 || (u[0] != "nonroot" && u[0] != "nonroot:nonroot") {
		t.Errorf("image USER %q, want nonroot", u)
	}
	if !slices.Contains(image.all("COPY"), "--from="+build.name+" "+output+" /service") {
		t.Errorf("image does not COPY --from=%s %s /service; COPYs: %q", build.name, output, image.all("COPY"))
	}
	if e := image.all("ENTRYPOINT"); len(e) != 1 || e[0] != `["/service"]` {
		t.Errorf("ENTRYPOINT %q, want [\"/service\"]", e)
	}
	if h := image.all("HEALTHCHECK"); len(h) != 1 || !strings.HasSuffix(h[0], `CMD ["/service", "probe"]`) {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/service\", \"probe\"]", h)
	}
	labels := map[string]string{}
	for _, l := range image.all("LABEL") {
		for _, m := range labelPair.FindAllStringSubmatch(l, -1) {
			labels[m[1]] = strings.Trim(m[2], `"`)
		}
	}
	for key, want := range map[string]string{
		"org.opencontainers.image.title":    "${SERVICE}",
		"org.opencontainers.image.source":   "https://",
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.revision": "${COMMIT}",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if !strings.Contains(labels[key], want) {
			t.Errorf("LABEL %s=%q, want it to contain %q", key, labels[key], want)
		}
	}
	for _, arg := range []string{"SERVICE", "VERSION", "COMMIT"} {
		if !image.declares(arg) {
			t.Errorf("image stage lacks ARG %s for its labels", arg)
		}
	}

	// Every service builds from what the build stage copies: the service,
	// every directory its go.mod's replace lines point at, and build.sh.
	for _, name := range repoServices(t) {
		t.Run(name, func(t *testing.T) {
			modPath := filepath.Join(repoRoot, "services", name, "go.mod")
			data, err := os.ReadFile(modPath)
			if err != nil {
				t.Fatal(err)
			}
			mod, err := modfile.Parse(modPath, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			needed := []string{"services/" + name, "deploy/build.sh"}
			for _, r := range mod.Replace {
				if !modfile.IsDirectoryPath(r.New.Path) {
					continue
				}
				dir := path.Join("services", name, r.New.Path)
				if dir == ".." || strings.HasPrefix(dir, "../") {
					t.Errorf("replace %s => %s points outside the repository", r.Old.Path, r.New.Path)
					continue
				}
				needed = append(needed, dir)
			}
			var copied []string // repository paths the build stage copies to the same place
			for _, c := range build.all("COPY") {
				f := strings.Fields(strings.ReplaceAll(c, "${SERVICE}", name))
				if len(f) != 2 || strings.HasPrefix(f[0], "--") {
					t.Errorf("COPY %q: want one source and its destination", c)
					continue
				}
				src, dst := path.Clean(f[0]), path.Clean(f[1])
				if path.Join(workdir, src) != path.Join(workdir, dst) {
					t.Errorf("COPY %q moves %s to %s: the go.mod replace paths need the repository's layout", c, src, dst)
				}
				copied = append(copied, src)
			}
			for _, need := range needed {
				if !slices.ContainsFunc(copied, func(c string) bool { return need == c || strings.HasPrefix(need, c+"/") }) {
					t.Errorf("the build stage does not copy %s (copies %q)", need, copied)
				}
			}
		})
	}
}
