package vqsimtest

import (
	"os"
	"testing"
)

func TestDumpScenario(t *testing.T) {
	if os.Getenv("VQSIM_DUMP") == "" {
		t.Skip("set VQSIM_DUMP=seed")
	}
	seed := uint64(envInt("VQSIM_DUMP", 1))
	sc := Generate(seed)
	t.Log("\n" + sc.Conf("/tmp/x") + "\n" + sc.Script())
}
