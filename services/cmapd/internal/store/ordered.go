package store

import (
	"sort"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// ordered is a flat key space kept in byte-wise key order, which is the
// order iteration must return (Go string comparison is byte-wise, like the
// libqb trie corosync uses). Maps hold hundreds of keys, so a sorted slice
// beats a tree on both code size and speed.
type ordered struct {
	keys []string
	vals map[string]value.Value
}

func newOrdered() ordered { return ordered{vals: make(map[string]value.Value)} }

func (o *ordered) get(key string) (value.Value, bool) {
	v, ok := o.vals[key]
	return v, ok
}

func (o *ordered) put(key string, v value.Value) {
	if _, ok := o.vals[key]; !ok {
		i := sort.SearchStrings(o.keys, key)
		o.keys = append(o.keys, "")
		copy(o.keys[i+1:], o.keys[i:])
		o.keys[i] = key
	}
	o.vals[key] = v
}

func (o *ordered) remove(key string) (value.Value, bool) {
	v, ok := o.vals[key]
	if !ok {
		return value.Value{}, false
	}
	delete(o.vals, key)
	i := sort.SearchStrings(o.keys, key)
	o.keys = append(o.keys[:i], o.keys[i+1:]...)
	return v, true
}

// next returns the first key with prefix that sorts after `after` (or the
// first with prefix at all when !started). Iterators remember only the
// last key they returned, so they walk the live map: keys inserted ahead
// of them are seen, deleted ones skipped, none returned twice.
func (o *ordered) next(prefix, after string, started bool) (string, bool) {
	var i int
	if started {
		i = sort.Search(len(o.keys), func(j int) bool { return o.keys[j] > after })
	} else {
		i = sort.SearchStrings(o.keys, prefix)
	}
	if i < len(o.keys) && strings.HasPrefix(o.keys[i], prefix) {
		return o.keys[i], true
	}
	return "", false
}

// withPrefix lists the keys under prefix in order.
func (o *ordered) withPrefix(prefix string) []string {
	i := sort.SearchStrings(o.keys, prefix)
	var out []string
	for ; i < len(o.keys) && strings.HasPrefix(o.keys[i], prefix); i++ {
		out = append(out, o.keys[i])
	}
	return out
}

func (o *ordered) len() int { return len(o.keys) }
