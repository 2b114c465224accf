package pg

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestGroupHeaderCodec(t *testing.T) {
	cases := []struct {
		names []string
		wire  []byte
	}{
		{[]string{GroupServices}, []byte{0x01, 0x00, 0x01, 0x00, 'a'}},                   // captured
		{[]string{GroupSync}, []byte{0x01, 0x00, 0x04, 0x00, 0x73, 0x79, 0x6e, 0x63}},    // captured
		{[]string{"ab", "c"}, []byte{0x02, 0x00, 0x02, 0x00, 0x01, 0x00, 'a', 'b', 'c'}}, // names concatenated
	}
	for _, tc := range cases {
		got, err := AppendGroupHeader(nil, tc.names...)
		if err != nil || !bytes.Equal(got, tc.wire) {
			t.Errorf("encode %q = % x, %v; want % x", tc.names, got, err, tc.wire)
		}
		msg := append(append([]byte(nil), tc.wire...), "body"...)
		names, body, err := DecodeGroupHeader(msg, false)
		if err != nil || !reflect.DeepEqual(names, tc.names) || string(body) != "body" {
			t.Errorf("decode % x = %q %q %v", msg, names, body, err)
		}
	}
}

func TestGroupHeaderSwapped(t *testing.T) {
	msg := []byte{0x00, 0x02, 0x00, 0x04, 0x00, 0x01, 's', 'y', 'n', 'c', 'a', 0xEE}
	names, body, err := DecodeGroupHeader(msg, true)
	if err != nil || !reflect.DeepEqual(names, []string{"sync", "a"}) || !bytes.Equal(body, []byte{0xEE}) {
		t.Fatalf("swapped decode = %q % x %v", names, body, err)
	}
}

func TestGroupHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		msg  []byte
		want string
	}{
		{[]byte{}, "no name count"},
		{[]byte{1}, "no name count"},
		{[]byte{2, 0, 1, 0}, "need 6 bytes of lengths"},
		{[]byte{1, 0, 5, 0, 'a', 'b'}, "name 0 ends at byte 9"},
	} {
		_, _, err := DecodeGroupHeader(tc.msg, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decode % x: err = %v, want %q", tc.msg, err, tc.want)
		}
	}
	for _, names := range [][]string{nil, {""}, {strings.Repeat("x", 70000)}, make([]string, 33)} {
		if _, err := AppendGroupHeader(nil, names...); err == nil {
			t.Errorf("encode of %d names accepted", len(names))
		}
	}
}

func TestGroupsDeliver(t *testing.T) {
	var g Groups
	var got []string
	rec := func(tag string) Handler {
		return func(from uint32, body []byte, swapped bool) {
			got = append(got, tag+":"+string(body))
		}
	}
	for _, j := range []struct {
		tag   string
		names []string
	}{{"svc", []string{GroupServices}}, {"sync", []string{GroupSync}}, {"both", []string{GroupSync, GroupServices}}} {
		if err := g.Join(rec(j.tag), j.names...); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Join(nil, "a"); err == nil {
		t.Fatal("nil handler accepted")
	}
	send := func(body string, names ...string) {
		msg, err := AppendGroupHeader(nil, names...)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Deliver(1, append(msg, body...), false); err != nil {
			t.Fatal(err)
		}
	}
	send("m1", GroupServices)
	send("m2", GroupSync)
	send("m3", "other", GroupSync)
	send("m4", "nobody")
	send("m5", "aa") // a prefix of nothing joined
	want := []string{"svc:m1", "both:m1", "sync:m2", "both:m2", "sync:m3", "both:m3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if st := g.Stats(); st.Delivered != 6 || st.Unmatched != 2 {
		t.Fatalf("stats %+v", st)
	}
}
