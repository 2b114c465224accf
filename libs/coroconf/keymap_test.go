package coroconf

import (
	"maps"
	"testing"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

func TestTexts(t *testing.T) {
	m := Map{"logging.debug": cval.Str("on"), "logging.n": cval.U8(1), "logging.i": cval.I32(-2),
		"logging.b": cval.Value{Type: cval.Binary, Data: []byte{1}}, "totem.token": cval.U32(5)}
	got := m.Texts("logging.")
	want := map[string]string{"logging.debug": "on", "logging.n": "1", "logging.i": "-2"}
	if !maps.Equal(got, want) {
		t.Fatalf("Texts = %v, want %v", got, want)
	}
}
