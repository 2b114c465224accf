package cs

import "testing"

func TestStrerror(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{OK, "success"}, {ErrNotExist, "CS_ERR_NOT_EXIST"}, {ErrInvalidParam, "CS_ERR_INVALID_PARAM"}, {ErrNameTooLong, "CS_ERR_NAME_TOO_LONG"},
		{ErrNotSupported, "CS_ERR_NOT_SUPPORTED"}, {ErrNoSections, "CS_ERR_NO_SECTIONS"},
		{ErrTooBig, "CS_ERR_TOO_BIG"}, {ErrSecurity, "CS_ERR_SECURITY"}, {29, "unknown error"}, {0, "unknown error"},
	} {
		if got := tc.e.Strerror(); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.e, got, tc.want)
		}
	}
	if OK.Err() != nil || ErrAccess.Err() == nil || ErrAccess.Error() != "CS_ERR_ACCESS" || Error(29).Error() != "cs_error(29)" {
		t.Error("Err/Error")
	}
}
