package registry

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// Guards checked before a TOML file reaches the decoder. BurntSushi/toml is a recursive-descent
// parser that builds the whole document in memory: a file nested two million levels deep
// overflows the goroutine stack (a fatal error, not a panic we could recover), a million nested
// inline tables exhaust memory, and a 100 MB file costs several times its size. A sidecar is a
// vendor's file, so both its size and its nesting are capped before a byte is parsed.
const (
	// maxRootSize caps collectors.toml, the operator's own file, whose [runtime]
	// max_sidecar_size cannot apply to itself.
	maxRootSize = 16 << 20
	// maxNesting caps how deep arrays, inline tables, table headers and dotted keys nest. The
	// schema needs at most 5 levels ([collector.params] may nest freely, but 64 is far beyond
	// any real parameter).
	maxNesting = 64
)

// readCapped reads the file at name, refusing it, before reading, when it is larger than max
// bytes. The file is read through a limit as well, for files that grow or lie about their size.
func readCapped(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		if info.Size() > max {
			return nil, &tooLargeError{size: info.Size(), max: max}
		}
		buf.Grow(int(info.Size()) + bytes.MinRead) // one allocation, not a doubling series
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > max {
		return nil, &tooLargeError{max: max}
	}
	return buf.Bytes(), nil
}

// tooLargeError says a file is over its size cap.
type tooLargeError struct {
	size int64 // 0 when unknown
	max  int64
}

func (e *tooLargeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("file is %s, over the cap of %s", bytesize.Format(e.size), bytesize.Format(e.max))
	}
	return fmt.Sprintf("file is over the cap of %s", bytesize.Format(e.max))
}

// nestingLine returns the 1-based line where text first nests deeper than max levels, or 0 when
// it never does. It is a cheap scan, linear in the text and without allocation, that knows just
// enough TOML to skip strings and comments: every [ and { opens a level until its ] or }, and
// every dot in a key (or a table header) adds one for as long as the key lasts. Dots in values
// (floats, times) count too, harmlessly: they end with the value.
func nestingLine(text []byte, max int) int {
	line, depth, dots := 1, 0, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\n':
			line++
			dots = 0
		case '#':
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			delim := 1
			if i+2 < len(text) && text[i+1] == c && text[i+2] == c {
				delim = 3
			}
			for i += delim; i < len(text); i++ {
				b := text[i]
				if b == '\\' && c == '"' {
					i++
					if i < len(text) && text[i] == '\n' {
						line++
					}
					continue
				}
				if b == '\n' {
					line++
					if delim == 1 { // invalid TOML, which the decoder reports; the string ends here
						dots = 0
						break
					}
					continue
				}
				if b == c && (delim == 1 || i+2 < len(text) && text[i+1] == c && text[i+2] == c) {
					i += delim - 1
					break
				}
			}
		case '[', '{':
			depth++
			dots = 0
		case ']', '}':
			depth--
			dots = 0
		case '=', ',':
			dots = 0
		case '.':
			dots++
		}
		if depth+dots > max {
			return line
		}
	}
	return 0
}
