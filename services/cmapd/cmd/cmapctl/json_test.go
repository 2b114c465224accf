package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// TestListJSON pins the --json rendering of every value type.
func TestListJSON(t *testing.T) {
	tests := []struct {
		v      value.Value
		binary bool
		want   string
	}{
		{value.U8(7), false, `{"key":"k","type":"u8","value":7}`},
		{value.I8(-7), false, `{"key":"k","type":"i8","value":-7}`},
		{value.I32(-70000), false, `{"key":"k","type":"i32","value":-70000}`},
		{value.U64(math.MaxUint64), false, `{"key":"k","type":"u64","value":18446744073709551615}`},
		{value.I64(math.MinInt64), false, `{"key":"k","type":"i64","value":-9223372036854775808}`},
		{value.F32(0.1), false, `{"key":"k","type":"flt","value":0.1}`},
		{value.F64(2.5e-300), false, `{"key":"k","type":"dbl","value":2.5e-300}`},
		{value.F64(math.NaN()), false, `{"key":"k","type":"dbl","value":"NaN"}`},
		{value.F64(math.Inf(-1)), false, `{"key":"k","type":"dbl","value":"-Inf"}`},
		{value.Str("a \"b\"\n"), false, `{"key":"k","type":"str","value":"a \"b\"\n"}`},
		{value.Bin([]byte{0, 0xff}), false, `{"key":"k","type":"bin"}`},
		{value.Bin([]byte{0, 0xff}), true, `{"key":"k","type":"bin","value":"00ff"}`},
	}
	for _, tc := range tests {
		l := &listJSON{}
		l.add("k", tc.v, tc.binary)
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		l.write(w)
		w.Flush()
		var compact bytes.Buffer
		if err := json.Compact(&compact, b.Bytes()); err != nil {
			t.Fatalf("%v: %v in %s", tc.v, err, b.String())
		}
		if got := compact.String(); got != `{"keys":[`+tc.want+`]}` {
			t.Errorf("%v: got %s, want keys [%s]", tc.v, got, tc.want)
		}
	}
}
