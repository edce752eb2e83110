package replay

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
)

// Value type letters of row and parameter values (see the format in doc.go).
const (
	typeNull  = 'n'
	typeInt   = 'i'
	typeFloat = 'f'
	typeText  = 's'
	typeBool  = 'b'
	typeTime  = 't'
	typeBytes = 'x'
)

// encodeValues turns data-source values into JSON values and a string of their type letters: the
// JSON alone would lose int against float, text against bytes, and times.
func encodeValues(vals []any) ([]any, string, error) {
	out := make([]any, len(vals))
	types := make([]byte, len(vals))
	for i, v := range vals {
		t, j, err := encodeValue(v)
		if err != nil {
			return nil, "", fmt.Errorf("value %d: %w", i+1, err)
		}
		out[i], types[i] = j, t
	}
	return out, string(types), nil
}

func encodeValue(v any) (byte, any, error) {
	switch x := v.(type) {
	case nil:
		return typeNull, nil, nil
	case int64:
		return typeInt, x, nil
	case int:
		return typeInt, int64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return typeFloat, strconv.FormatFloat(x, 'g', -1, 64), nil
		}
		return typeFloat, x, nil
	case string:
		return typeText, x, nil
	case bool:
		return typeBool, x, nil
	case time.Time:
		return typeTime, x.UTC().Format(time.RFC3339Nano), nil
	case []byte:
		return typeBytes, base64.StdEncoding.EncodeToString(x), nil
	}
	return 0, nil, fmt.Errorf("unexpected value type %T", v)
}

// decodeValues is encodeValues backwards. raw holds the JSON values as decoded with UseNumber.
func decodeValues(raw []any, types string) ([]any, error) {
	if len(raw) != len(types) {
		return nil, fmt.Errorf("%d values but %d type letters", len(raw), len(types))
	}
	out := make([]any, len(raw))
	for i, r := range raw {
		v, err := decodeValue(types[i], r)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

func decodeValue(t byte, r any) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("type %q does not fit value %v", t, r) }
	switch t {
	case typeNull:
		if r != nil {
			return bad()
		}
		return nil, nil
	case typeInt:
		n, ok := r.(json.Number)
		if !ok {
			return bad()
		}
		return n.Int64()
	case typeFloat:
		switch x := r.(type) {
		case json.Number:
			return x.Float64()
		case string:
			return strconv.ParseFloat(x, 64)
		}
		return bad()
	case typeText:
		s, ok := r.(string)
		if !ok {
			return bad()
		}
		return s, nil
	case typeBool:
		b, ok := r.(bool)
		if !ok {
			return bad()
		}
		return b, nil
	case typeTime:
		s, ok := r.(string)
		if !ok {
			return bad()
		}
		return time.Parse(time.RFC3339Nano, s)
	case typeBytes:
		s, ok := r.(string)
		if !ok {
			return bad()
		}
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown value type %q", t)
}

// QueryParams is a query's parameters in the record: name, type letter and value, sorted by name
// so that equal parameters encode equally.
type QueryParams [][3]any

func encodeQueryParams(params map[string]any) (QueryParams, error) {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(QueryParams, 0, len(names))
	for _, k := range names {
		t, j, err := encodeValue(params[k])
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out = append(out, [3]any{k, string(t), j})
	}
	return out, nil
}

// key is the canonical text of the parameters, for matching a replayed query to a recorded one.
func (p QueryParams) key() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// String renders the parameters for messages: @name=value, ….
func (p QueryParams) String() string {
	parts := make([]string, len(p))
	for i, e := range p {
		b, _ := json.Marshal(e[2])
		parts[i] = fmt.Sprintf("@%v=%s", e[0], b)
	}
	return strings.Join(parts, ", ")
}

// normalize makes decoded parameters (numbers as json.Number) compare equal to encoded ones.
func (p QueryParams) normalize() (QueryParams, error) {
	out := make(QueryParams, len(p))
	for i, e := range p {
		name, ok1 := e[0].(string)
		typ, ok2 := e[1].(string)
		if !ok1 || !ok2 || len(typ) != 1 {
			return nil, errors.New("a parameter is not [name, type, value]")
		}
		v, err := decodeValue(typ[0], e[2])
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		_, j, err := encodeValue(v)
		if err != nil {
			return nil, err
		}
		out[i] = [3]any{name, typ, j}
	}
	return out, nil
}

// Param is one TOML parameter of the collector in a form that survives JSON unchanged, the same
// encoding the worker protocol uses: plain JSON would turn integers into floats and dates into
// text, and could not hold NaN.
type Param = tomlparam.Value
