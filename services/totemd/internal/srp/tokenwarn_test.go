package srp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The token warning says, every TokenWarning while no token arrives, how
// long it has been; a token rearms it, a formed ring never logs it.
func TestTokenWarning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		percent time.Duration
		want    int // warnings logged by node 1 before the new ring
	}{
		{"75 percent", 75, 1},
		{"off", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer // the harness runs every node in this goroutine
			h := newHarness(t, 3)
			h.mutate = func(c *Config) {
				c.TokenWarning = c.Token * tc.percent / 100
				if c.Self == 1 {
					c.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info,
						TimeFn: func() time.Time { return time.Unix(0, 0).Add(h.now) }})
				}
			}
			h.startAll()
			formRing(t, h, 1, 2, 3)
			h.run(h.node(1).n.cfg.Token) // a healthy ring: no warning
			if strings.Contains(logs.String(), "Token has not been received") {
				t.Fatalf("warning on a healthy ring:\n%s", logs.String())
			}
			h.kill(3)
			formRing(t, h, 1, 2)
			got := strings.Count(logs.String(), "Token has not been received in ")
			if got != tc.want {
				t.Fatalf("%d warnings, want %d:\n%s", got, tc.want, logs.String())
			}
			if tc.want > 0 {
				// 75 % of the token timeout after the last token, and it says so.
				want := fmt.Sprintf("Token has not been received in %d ms", (h.node(1).n.cfg.Token * 3 / 4).Milliseconds())
				if !strings.Contains(logs.String(), want) {
					t.Errorf("want %q in:\n%s", want, logs.String())
				}
			}
		})
	}
}
