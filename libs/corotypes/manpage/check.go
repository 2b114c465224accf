package manpage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// UpdateEnv, when set (make man), makes Check write the page instead of
// comparing it with the file.
const UpdateEnv = "NEEDLE_MAN_UPDATE"

// DocDir finds docs/man of the checkout holding the current directory
// (the directory with go.work).
func DocDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "docs", "man")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("manpage: no go.work above the test's directory")
		}
		dir = parent
	}
}

// Check renders p, lints it, and compares it with docs/man/<name>.<section>
// (or writes it there when UpdateEnv is set). A stale page fails with the
// command that regenerates it.
func Check(t testing.TB, p Page) {
	t.Helper()
	text := p.Render()
	file := fmt.Sprintf("%s.%d", p.Name, p.Section)
	if err := Lint(file, []byte(text)); errors.Is(err, ErrNoGroff) {
		t.Log(err, "- page not linted")
	} else if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(DocDir(t), file)
	if os.Getenv(UpdateEnv) != "" {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate the page: make man)", err)
	}
	if string(old) != text {
		t.Fatalf("%s differs from what the command's definition renders (regenerate: make man, i.e. %s=1 go test -run TestManPage)", path, UpdateEnv)
	}
}

// ErrNoGroff is Lint's error where groff is not installed.
var ErrNoGroff = errors.New("groff not installed (Debian package groff-base)")

// Lint formats a page with groff's man macros and every warning enabled
// (groff -man -ww -z): any warning or error is returned with the page's
// name. man -l runs the same groff, without -ww.
func Lint(name string, page []byte) error {
	groff, err := exec.LookPath("groff")
	if err != nil {
		return ErrNoGroff
	}
	cmd := exec.Command(groff, "-man", "-ww", "-z", "-Tutf8")
	cmd.Stdin = bytes.NewReader(page)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		return fmt.Errorf("%s: groff -man -ww: %v\n%s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
