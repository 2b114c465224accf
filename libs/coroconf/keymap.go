package coroconf

import (
	"sort"
	"strconv"
	"strings"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// Key name limits of cmap (cmap.md §2).
const (
	keyNameMinLen = 3
	keyNameMaxLen = 255
)

// Map is a flat cmap key space: full dotted key name → typed value.
type Map map[string]cval.Value

// Keys returns all key names in cmap iteration order (byte-wise ascending).
func (m Map) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// KeysWithPrefix returns the sorted key names that start with prefix, like
// an icmap prefix iterator.
func (m Map) KeysWithPrefix(prefix string) []string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Format renders the whole map as corosync-cmapctl does: one sorted
// `KEY (TYPE) = VALUE` line per key, each ending in a newline.
func (m Map) Format() string {
	var sb strings.Builder
	for _, k := range m.Keys() {
		sb.WriteString(FormatEntry(k, m[k]))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Strings returns the string-typed keys under prefix as a plain map, the
// shape logging configuration readers take.
func (m Map) Strings(prefix string) map[string]string {
	out := make(map[string]string)
	for k, v := range m {
		if s, ok := v.AsString(); ok && strings.HasPrefix(k, prefix) {
			out[k] = s
		}
	}
	return out
}

// Texts is Strings for values of any type: numbers in decimal, so a
// section rewritten at runtime with another value type (cmapctl -s
// logging.debug u8 1) still reads. Other types are left out.
func (m Map) Texts(prefix string) map[string]string {
	out := make(map[string]string)
	for k, v := range m {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if s, ok := v.AsString(); ok {
			out[k] = s
		} else if n, ok := v.AsUint(); ok {
			out[k] = strconv.FormatUint(n, 10)
		} else if n, ok := v.AsInt(); ok {
			out[k] = strconv.FormatInt(n, 10)
		}
	}
	return out
}

// str returns the value of a string key, like icmap_get_string (which
// fails for keys of any other type).
func (m Map) str(key string) (string, bool) {
	v, ok := m[key]
	if !ok {
		return "", false
	}
	return v.AsString()
}

// u32 returns the value of a u32 key, like icmap_get_uint32.
func (m Map) u32(key string) (uint32, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	return v.U32Value()
}

// ValidKeyName reports whether name may be created in cmap: 3…255 bytes of
// A-Z a-z 0-9 . _ - / : (Corosync answers CS_ERR_NAME_TOO_LONG otherwise).
func ValidKeyName(name string) bool {
	if len(name) < keyNameMinLen || len(name) > keyNameMaxLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == '/', c == ':':
		default:
			return false
		}
	}
	return true
}

// set stores a key the way icmap_set does during parsing: invalid names
// are refused with Corosync's message.
func (m Map) set(key string, v cval.Value) error {
	if !ValidKeyName(key) {
		return errString("Can't store key \"" + key + "\" into icmap, returned error is CS_ERR_NAME_TOO_LONG")
	}
	m[key] = v
	return nil
}
