// Package tomlparam carries a collector's TOML parameters through JSON unchanged: to a worker
// process (the worker protocol) and into a replay record. Plain JSON would turn every integer
// into a float and every date into a string, cannot hold NaN or ±Inf, and cannot tell an empty
// list from a missing one; the guest would then see other parameters than the operator wrote.
package tomlparam

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Value is one TOML parameter value: exactly one field is set (or IsList/IsTable for an empty
// list or table).
type Value struct {
	Int   *int64   `json:"i,omitempty"`
	Float *float64 `json:"f,omitempty"`
	// Special is a float JSON cannot hold: "NaN", "+Inf" or "-Inf".
	Special *string          `json:"fx,omitempty"`
	Str     *string          `json:"s,omitempty"`
	Bool    *bool            `json:"b,omitempty"`
	Time    *time.Time       `json:"t,omitempty"`
	List    []Value          `json:"l,omitempty"`
	Table   map[string]Value `json:"m,omitempty"`
	// IsList and IsTable tell an empty list or table from no value.
	IsList  bool `json:"il,omitempty"`
	IsTable bool `json:"it,omitempty"`
}

// MaxDepth bounds nesting on both sides: the TOML decoder has no such bound of its own, and a
// decoder must not recurse without one on input it did not produce.
const MaxDepth = 64

// Encode converts parameters as the TOML decoder produced them (int64, float64, string, bool,
// time.Time, []any, []map[string]any, map[string]any). Any other type is an error naming the
// parameter.
func Encode(params map[string]any) (map[string]Value, error) {
	if params == nil {
		return nil, nil
	}
	out := make(map[string]Value, len(params))
	for k, v := range params {
		p, err := encode(v, 0)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}

func encode(v any, depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, fmt.Errorf("nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case int64:
		return Value{Int: &x}, nil
	case int:
		i := int64(x)
		return Value{Int: &i}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			s := strconv.FormatFloat(x, 'g', -1, 64) // "NaN", "+Inf", "-Inf"
			return Value{Special: &s}, nil
		}
		return Value{Float: &x}, nil
	case string:
		return Value{Str: &x}, nil
	case bool:
		return Value{Bool: &x}, nil
	case time.Time:
		return Value{Time: &x}, nil
	case []any:
		return encodeList(x, depth)
	case []map[string]any:
		return encodeList(x, depth)
	case map[string]any:
		m := make(map[string]Value, len(x))
		for k, e := range x {
			p, err := encode(e, depth+1)
			if err != nil {
				return Value{}, err
			}
			m[k] = p
		}
		return Value{Table: m, IsTable: true}, nil
	}
	return Value{}, fmt.Errorf("value of type %T is not a TOML value", v)
}

func encodeList[E any](x []E, depth int) (Value, error) {
	l := make([]Value, len(x))
	for i, e := range x {
		p, err := encode(e, depth+1)
		if err != nil {
			return Value{}, err
		}
		l[i] = p
	}
	return Value{List: l, IsList: true}, nil
}

// Decode converts parameters back into what the TOML decoder produced. Nesting deeper than
// MaxDepth, or a Special that is not a float, decodes as nil: Decode reads what Encode wrote.
func Decode(params map[string]Value) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for k, p := range params {
		out[k] = decode(p, 0)
	}
	return out
}

func decode(p Value, depth int) any {
	if depth > MaxDepth {
		return nil
	}
	switch {
	case p.Int != nil:
		return *p.Int
	case p.Float != nil:
		return *p.Float
	case p.Special != nil:
		f, err := strconv.ParseFloat(*p.Special, 64)
		if err != nil {
			return nil
		}
		return f
	case p.Str != nil:
		return *p.Str
	case p.Bool != nil:
		return *p.Bool
	case p.Time != nil:
		return *p.Time
	case p.IsList:
		l := make([]any, len(p.List))
		for i, e := range p.List {
			l[i] = decode(e, depth+1)
		}
		return l
	case p.IsTable:
		m := make(map[string]any, len(p.Table))
		for k, e := range p.Table {
			m[k] = decode(e, depth+1)
		}
		return m
	}
	return nil
}
