package coroconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes through the parser and, when they parse,
// through the totem derivation and validation: nothing may panic, every
// error must be an *Error with exit 8, and every stored key must be a
// valid cmap key name.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "{", "}", "a:{", ":", "totem {\n interface {\n  extra {\n  }\n }\n}\n",
		"logging {\n logger_subsys {\n  x {\n  }\n }\n}\n", "nodelist {\n node {\n  a {\n  }\n }\n}\n",
		"totem {\n version: 2\n}\nnodelist {\n node {\n  ring0_addr: ::1\n  nodeid: 1\n }\n}\n",
	} {
		f.Add([]byte(s))
	}
	envData := "hostname vm\naddr 127.0.0.1\naddr ::1\nhost localhost 127.0.0.1\nhost vm 127.0.0.1\n"
	env, err := ParseHostEnv([]byte(envData), "")
	if err != nil {
		f.Fatal(err)
	}
	env.ReadKey = func(path string) ([]byte, error) {
		if strings.HasSuffix(path, "short") {
			return make([]byte, 16), nil
		}
		return make([]byte, 256), nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("f", data, LoadOptions{IDs: IDResolver{
			LookupUser:  func(string) (uint32, bool, error) { return 0, false, nil },
			LookupGroup: func(string) (uint32, bool, error) { return 7, true, nil },
		}})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Exit != ExitConfig ||
				!(strings.HasPrefix(ce.Msg, "parser error: f:") || ce.Msg == "Can't format parser error message") {
				t.Fatalf("bad parse error %#v", err)
			}
			return
		}
		for k := range m {
			if !ValidKeyName(k) {
				t.Fatalf("invalid key %q stored", k)
			}
		}
		_ = m.Format()
		tt, _, err := ReadTotem(m, env)
		if err == nil {
			err = Validate(tt, m, env, ValidateOptions{})
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Exit != ExitConfig || ce.Msg == "" {
				t.Fatalf("bad totem error %#v", err)
			}
		}
	})
}
