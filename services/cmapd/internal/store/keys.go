package store

// Tracker flags (cmap_track_type), also the event codes of notifications.
const (
	TrackDelete int32 = 1
	TrackModify int32 = 2
	TrackAdd    int32 = 4
	TrackPrefix int32 = 8

	trackAll = TrackDelete | TrackModify | TrackAdd | TrackPrefix
)

// Key name limits (ICMAP_KEYNAME_MINLEN/MAXLEN).
const (
	KeyMinLen = 3
	KeyMaxLen = 255
)

// ValidKeyName reports whether a key may be created: 3…255 bytes of
// A-Z a-z 0-9 . _ - / :. Only creation checks this; existing keys, gets,
// deletes, prefixes and tracker keys are never validated (cmap.md §2).
func ValidKeyName(name string) bool {
	if len(name) < KeyMinLen || len(name) > KeyMaxLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !validKeyChar(name[i]) {
			return false
		}
	}
	return true
}

func validKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/' || c == ':'
}

// ConvertName replaces every character a key may not hold with '_', as the
// config parser does for names derived from user text
// (icmap_convert_name_to_valid_name).
func ConvertName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !validKeyChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}
