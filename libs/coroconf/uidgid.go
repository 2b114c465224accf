package coroconf

import (
	"fmt"
	"math"
	"os/user"
	"strconv"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// IDResolver turns uidgid names into numeric ids. The zero value uses the
// system user and group databases (os/user).
type IDResolver struct {
	// LookupUser returns the uid of a user name; ok false if unknown.
	LookupUser func(name string) (uid uint32, ok bool, err error)
	// LookupGroup returns the gid of a group name; ok false if unknown.
	LookupGroup func(name string) (gid uint32, ok bool, err error)
}

func systemLookupUser(name string) (uint32, bool, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, unknown := err.(user.UnknownUserError); unknown {
			return 0, false, nil
		}
		return 0, false, err
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(id), err == nil, err
}

func systemLookupGroup(name string) (uint32, bool, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, unknown := err.(user.UnknownGroupError); unknown {
			return 0, false, nil
		}
		return 0, false, err
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(id), err == nil, err
}

// numericID accepts what Corosync takes as a numeric id: a strtol number
// consuming the whole value, 0 ≤ id ≤ UINT_MAX. UINT_MAX itself collides
// with Corosync's -1 error return and is rejected like an unknown name.
func numericID(s string) (uint32, bool, bool) {
	v, ok := parseIntRange(s, math.MinInt64, math.MaxInt64)
	if !ok || v < 0 || v > math.MaxUint32 {
		return 0, false, false
	}
	if v == math.MaxUint32 {
		return 0, true, false
	}
	return uint32(v), true, true
}

func (r IDResolver) uid(name string) (uint32, error) {
	if id, numeric, ok := numericID(name); numeric {
		if ok {
			return id, nil
		}
		return 0, errString(fmt.Sprintf("The '%s' user is not found in /etc/passwd, please read the documentation.", name))
	}
	lookup := r.LookupUser
	if lookup == nil {
		lookup = systemLookupUser
	}
	id, ok, err := lookup(name)
	if err != nil {
		return 0, errString("getpwnam_r(): " + err.Error())
	}
	if !ok {
		return 0, errString(fmt.Sprintf("The '%s' user is not found in /etc/passwd, please read the documentation.", name))
	}
	return id, nil
}

func (r IDResolver) gid(name string) (uint32, error) {
	if id, numeric, ok := numericID(name); numeric {
		if ok {
			return id, nil
		}
		return 0, errString(fmt.Sprintf("The '%s' group is not found in /etc/group, please read the documentation.", name))
	}
	lookup := r.LookupGroup
	if lookup == nil {
		lookup = systemLookupGroup
	}
	id, ok, err := lookup(name)
	if err != nil {
		return 0, errString("getgrnam_r(): " + err.Error())
	}
	if !ok {
		return 0, errString(fmt.Sprintf("The '%s' group is not found in /etc/group, please read the documentation.", name))
	}
	return id, nil
}

// uidgidHandler parses one uidgid.d file: only a top-level uidgid section
// with uid/gid items is allowed.
type uidgidHandler struct {
	m   Map
	ids IDResolver
}

func (h *uidgidHandler) sectionStart(path string, _ *sectionCtx) error {
	if path != "uidgid" {
		return errString("uidgid: Can't add subsection different than uidgid")
	}
	return nil
}

func (h *uidgidHandler) item(path, _, value string, _ *sectionCtx) error {
	switch path {
	case "uidgid.uid":
		id, err := h.ids.uid(value)
		if err != nil {
			return err
		}
		return h.m.set(fmt.Sprintf("uidgid.config.uid.%d", id), cval.U8(1))
	case "uidgid.gid":
		id, err := h.ids.gid(value)
		if err != nil {
			return err
		}
		return h.m.set(fmt.Sprintf("uidgid.config.gid.%d", id), cval.U8(1))
	}
	return errString("uidgid: Only uid and gid are allowed items")
}

func (h *uidgidHandler) sectionEnd(string, *sectionCtx) error { return nil }
