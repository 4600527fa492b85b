package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// What the compose, image and Helm tests learn from the repository's code.

// The tests run in deploy/; the repository root is its parent.
const repoRoot = ".."

// repoServices lists the service directories (services/*/go.mod), so a new
// service is checked without touching these tests.
func repoServices(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "services"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(repoRoot, "services", e.Name(), "go.mod")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no services found under services/")
	}
	return names
}

// envName matches the variables the services own, FEEDLOOP_* and OTEL_*;
// envLead finds one at the start of a string ("FEEDLOOP_X: bad value").
var (
	envName = regexp.MustCompile(`^(FEEDLOOP|OTEL)_[A-Z0-9_]*$`)
	envLead = regexp.MustCompile(`^(FEEDLOOP|OTEL)_[A-Z0-9_]*`)
)

// knownEnv returns the FEEDLOOP_* and OTEL_* variables the services read.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	known, err := scanKnownEnv()
	if err != nil {
		t.Fatal(err)
	}
	return known
}

// scanKnownEnv scans the code once for knownEnv. Names are written out whole
// in Go (pkg/config takes the full name; none is assembled from a prefix),
// so they are the string literals of the non-test Go files of pkg/ and
// services/, pkg/testkit aside (it sets variables for tests). A literal that
// is only the start of a name means one is assembled at run time, and fails
// the scan until it learns how. The one kind that is not Go is alerting's
// receivers: they read the variables the routing file names in its *_env
// keys (internal/routing/default.yaml), so the services' YAML files count
// too.
var scanKnownEnv = sync.OnceValues(func() (map[string]bool, error) {
	known := map[string]bool{}
	var assembled []string
	fset := token.NewFileSet()
	for _, dir := range []string{"pkg", "services"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			switch {
			case d.IsDir() && (d.Name() == "testdata" || filepath.ToSlash(rel) == "pkg/testkit"):
				return filepath.SkipDir
			case d.IsDir():
				return nil
			case strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go"):
				f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
				if err != nil {
					return err
				}
				ast.Inspect(f, func(n ast.Node) bool {
					lit, ok := n.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						return true
					}
					s, err := strconv.Unquote(lit.Value)
					name := envLead.FindString(s)
					if err != nil || name == "" {
						return true
					}
					if strings.HasSuffix(name, "_") {
						assembled = append(assembled, fmt.Sprintf("%s: %q", fset.Position(lit.Pos()), s))
					}
					known[name] = true
					return true
				})
			case strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"):
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				var doc yaml.Node
				if err := yaml.Unmarshal(b, &doc); err != nil {
					return err
				}
				for _, v := range envKeyValues(&doc) {
					if envName.MatchString(v) {
						known[v] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(assembled) > 0 {
		return nil, fmt.Errorf("these look like the start of a variable name built at run time; teach scanKnownEnv how it is built:\n%s", strings.Join(assembled, "\n"))
	}
	return known, nil
})

// envKeyValues returns the values of every "*_env" key in a YAML tree.
func envKeyValues(n *yaml.Node) []string {
	var out []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; strings.HasSuffix(k.Value, "_env") && v.Kind == yaml.ScalarNode {
				out = append(out, v.Value)
			}
		}
	}
	for _, c := range n.Content {
		out = append(out, envKeyValues(c)...)
	}
	return out
}
