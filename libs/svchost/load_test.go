package svchost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfig: a good file gives its keys and open logs; a broken one
// an error naming it.
func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("totem {\n\tversion: 2\n\tcluster_name: lc\n}\nnodelist {\n\tnode {\n\t\tring0_addr: 127.0.0.1\n\t\tnodeid: 1\n\t}\n}\nlogging {\n\tto_stderr: no\n\tto_syslog: no\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig("cpgd", good)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Logs.Close()
	if v, ok := cfg.Keys["totem.cluster_name"]; !ok || cfg.Path != good || cfg.Logs == nil {
		t.Fatalf("LoadConfig: %+v (cluster_name %v)", cfg, v)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("totem {\n\tversion: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig("cpgd", bad)
	t.Logf("truncated file: %v", err)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "missing closing brace") {
		t.Fatalf("LoadConfig of a truncated file: %v", err)
	}
}
