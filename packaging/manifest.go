package packaging

// Names and versions of the files every tarball carries besides the collections.
const (
	manifestName      = "manifest.json"
	statusName        = "data_collection_status.csv"
	configName        = "config.json"
	statusVersion     = "1.0"
	memberPrefix      = "./"
	manifestSeparator = ", "
	manifestColon     = ": "
)

// ManifestEntry is one entry of a tarball's manifest.json: a file name inside the tarball
// (without the "./" prefix) and the version of its format.
type ManifestEntry struct {
	File    string
	Version string
}

// appendManifest appends the manifest.json text of entries to dst: a JSON object in the order
// given, printed as Python's json.dumps prints a dict with its defaults (", " and ": "
// separators, ASCII only, no trailing newline), as upstream wrote it (4.2; design.md D12).
func appendManifest(dst []byte, entries []ManifestEntry) []byte {
	dst = append(dst, '{')
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, manifestSeparator...)
		}
		dst = appendPyJSONString(dst, e.File)
		dst = append(dst, manifestColon...)
		dst = appendPyJSONString(dst, e.Version)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendPyJSONString appends s as a JSON string the way Python's json.dumps does with
// ensure_ascii=True: `"` and `\` escaped, \b \f \n \r \t by name, every other character outside
// printable ASCII (0x20–0x7e) as \uXXXX in lowercase hex, characters above the BMP as a UTF-16
// surrogate pair. Invalid UTF-8 is written as U+FFFD.
func appendPyJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\b':
			dst = append(dst, '\\', 'b')
		case r == '\f':
			dst = append(dst, '\\', 'f')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r >= 0x20 && r <= 0x7e:
			dst = append(dst, byte(r))
		case r > 0xffff:
			r -= 0x10000
			dst = appendUEscape(dst, 0xd800|(r>>10)&0x3ff)
			dst = appendUEscape(dst, 0xdc00|r&0x3ff)
		default: // range yields U+FFFD for invalid UTF-8, so it is written as \ufffd
			dst = appendUEscape(dst, r)
		}
	}
	return append(dst, '"')
}

func appendUEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
