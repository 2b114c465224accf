package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupErrors: a configuration cmapd cannot load stops it at once
// with corosync's message and exit status.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.conf")
	if err := os.WriteFile(broken, []byte("totem {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"cmapd", "-c", filepath.Join(dir, "missing.conf")}, 8, "Can't read file " + filepath.Join(dir, "missing.conf")},
		{[]string{"cmapd", "-c", broken}, 8, "Missing closing brace"},
		{[]string{"cmapd", "extra"}, 1, `cmapd: unexpected argument "extra"`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.stderr)
		}
	}
}
