package coroconf

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// liveOnly matches keys a running corosync adds by itself (services, mon,
// wd, membership); testdata/record-cmapctl.sh drops the same keys.
var liveOnly = regexp.MustCompile(`^(internal_configuration\.|runtime\.(blackbox|force_gather|members|services|votequorum|totem|connections)|resources\.(system|process|watchdog_timeout)|config\.)`)

// TestCorpusMatchesLiveCmap compares our keys with corosync-cmapctl of a
// real corosync running the same file (recorded by record-cmapctl.sh).
func TestCorpusMatchesLiveCmap(t *testing.T) {
	env := corpusEnv(t)
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.cmapctl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("only %d live recordings", len(files))
	}
	abs, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(abs)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".cmapctl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(name + ".cmapctl")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(data), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					want = append(want, l)
				}
			}
			res, err := checkCorpus(t, corpusCase{name, name + ".conf"}, env)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range res.Map.Keys() {
				if !liveOnly.MatchString(k) {
					got = append(got, FormatEntry(k, res.Map[k]))
				}
			}
			g, w := strings.Join(got, "\n"), strings.Join(want, "\n")
			if g != w {
				t.Errorf("differs from live cmap:\n%s", lineDiff(w, g))
			}
		})
	}
}
