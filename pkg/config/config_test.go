package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	e := FromMap(map[string]string{
		"S": "x", "EMPTY": "", "I": "42", "F": "0.5", "D": "90s", "B": "true",
		"BAD_I": "four", "BAD_D": "soon",
	})
	if got := e.String("S", "d"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := e.String("EMPTY", "d"); got != "d" {
		t.Errorf("empty String = %q, want default", got)
	}
	if got := e.Switch("EMPTY", "d"); got != "" {
		t.Errorf("empty Switch = %q, want empty: set to empty turns it off", got)
	}
	if got := e.Switch("MISSING", "d"); got != "d" {
		t.Errorf("unset Switch = %q, want default", got)
	}
	if got := e.Switch("S", "d"); got != "x" {
		t.Errorf("Switch = %q", got)
	}
	if got := e.Int("I", 1); got != 42 {
		t.Errorf("Int = %d", got)
	}
	if got := e.Float("F", 1); got != 0.5 {
		t.Errorf("Float = %v", got)
	}
	if got := e.Duration("D", time.Second); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := e.Bool("B", false); !got {
		t.Errorf("Bool = %v", got)
	}
	if got := e.Int("MISSING", 7); got != 7 {
		t.Errorf("missing Int = %d", got)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("Err before bad values = %v", err)
	}
	e.Int("BAD_I", 1)
	e.Duration("BAD_D", time.Second)
	err := e.Err()
	if err == nil {
		t.Fatal("Err = nil after bad values")
	}
	for _, name := range []string{"BAD_I", "BAD_D"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.txt"), filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(good, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(""), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(r io.Reader, name string) (string, error) {
		b, err := io.ReadAll(r)
		if err == nil && len(b) == 0 {
			err = fmt.Errorf("%s: empty", name)
		}
		return string(b), err
	}
	builtin := func() (string, error) { return "built-in", nil }
	for _, tc := range []struct {
		path, want, err string
	}{
		{"", "built-in", ""},
		{good, "hello", ""},
		{bad, "", bad + ": empty"},
		{filepath.Join(dir, "missing.txt"), "", "no such file"},
	} {
		e := FromMap(map[string]string{"F": tc.path})
		got := File(e, "F", parse, builtin)
		err := e.Err()
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("path %q: %q, %v; want %q and an error containing %q", tc.path, got, err, tc.want, tc.err)
		}
	}
}
