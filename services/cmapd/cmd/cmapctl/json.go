package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"

	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
)

// listJSON is what --json prints for a key listing or -g (schema in
// jsonHelp and docs/json.md).
type listJSON struct {
	Keys []keyJSON `json:"keys"`
}

// keyJSON is one key. Value is a JSON number for the integer types (the
// exact decimal, u64 included) and for flt/dbl ("NaN", "+Inf", "-Inf" as
// strings), a string for str, lowercase hex for bin with -b, and absent
// for bin without -b (the text prints no value either).
type keyJSON struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value,omitempty"`
}

func (l *listJSON) add(key string, v value.Value, binary bool) {
	k := keyJSON{Key: key, Type: v.Type.Name()}
	switch v.Type {
	case value.None:
	case value.Binary:
		if binary {
			k.Value = hex.EncodeToString(v.Data)
		}
	case value.String:
		k.Value = ctlfmt.Value(v)
	case value.Float, value.Double:
		f, _ := v.AsFloat()
		if v.Type == value.Float {
			f = float64(float32(f))
		}
		switch {
		case math.IsNaN(f):
			k.Value = "NaN"
		case math.IsInf(f, 1):
			k.Value = "+Inf"
		case math.IsInf(f, -1):
			k.Value = "-Inf"
		default:
			bits := 64
			if v.Type == value.Float {
				bits = 32
			}
			k.Value = json.Number(strconv.FormatFloat(f, 'g', -1, bits))
		}
	default:
		k.Value = json.Number(ctlfmt.Value(v))
	}
	l.Keys = append(l.Keys, k)
}

// write prints the object, indented, with a final newline.
func (l *listJSON) write(out *bufio.Writer) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		// Only a value json cannot hold gets here; say so in the output
		// rather than print half an object.
		b = []byte(strconv.Quote("json: " + err.Error()))
	}
	out.Write(append(b, '\n'))
}

// jsonHelp follows the help text when --json comes before -h (-h alone
// stays the C tool's text, byte for byte).
const jsonHelp = `needle extension:
    corosync-cmapctl --json [-b] [-m map] [key_prefix...]
    corosync-cmapctl --json [-b] [-m map] -g key_name...

    print one JSON object instead of the "key (type) = value" lines; -q is
    ignored, messages on stderr and exit codes are unchanged, and the object
    lists exactly the keys the text would have (also when the exit code is 1).
    Schema (docs/json.md):

    {"keys": [
      {"key": "totem.version", "type": "u32", "value": 2},
      {"key": "totem.cluster_name", "type": "str", "value": "needle"},
      {"key": "runtime.config.totem.token", "type": "u32", "value": 3000},
      {"key": "x.bin", "type": "bin", "value": "00ff"}     (hex, -b only)
    ]}
    types: i8 u8 i16 u16 i32 u32 i64 u64 (exact numbers), flt dbl (numbers;
    "NaN", "+Inf", "-Inf" as strings), str (string), bin.

`
