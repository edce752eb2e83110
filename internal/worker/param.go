package worker

import (
	"fmt"
	"time"
)

// Param is one TOML parameter value in a form that survives JSON unchanged: plain JSON would turn
// every integer into a float and every date into a string, and the guest would see other text.
type Param struct {
	Int   *int64           `json:"i,omitempty"`
	Float *float64         `json:"f,omitempty"`
	Str   *string          `json:"s,omitempty"`
	Bool  *bool            `json:"b,omitempty"`
	Time  *time.Time       `json:"t,omitempty"`
	List  []Param          `json:"l,omitempty"`
	Table map[string]Param `json:"m,omitempty"`
	// IsList and IsTable tell an empty list or table from no value.
	IsList  bool `json:"il,omitempty"`
	IsTable bool `json:"it,omitempty"`
}

// maxParamDepth bounds nesting, on both sides (the TOML decoder has no such bound of its own).
const maxParamDepth = 64

// EncodeParams converts TOML-decoded parameters.
func EncodeParams(params map[string]any) (map[string]Param, error) {
	if params == nil {
		return nil, nil
	}
	out := make(map[string]Param, len(params))
	for k, v := range params {
		p, err := encodeParam(v, 0)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}

func encodeParam(v any, depth int) (Param, error) {
	if depth > maxParamDepth {
		return Param{}, fmt.Errorf("nested deeper than %d", maxParamDepth)
	}
	switch x := v.(type) {
	case int64:
		return Param{Int: &x}, nil
	case int:
		i := int64(x)
		return Param{Int: &i}, nil
	case float64:
		return Param{Float: &x}, nil
	case string:
		return Param{Str: &x}, nil
	case bool:
		return Param{Bool: &x}, nil
	case time.Time:
		return Param{Time: &x}, nil
	case []any:
		return encodeList(x, depth)
	case []map[string]any:
		return encodeList(x, depth)
	case map[string]any:
		m := make(map[string]Param, len(x))
		for k, e := range x {
			p, err := encodeParam(e, depth+1)
			if err != nil {
				return Param{}, err
			}
			m[k] = p
		}
		return Param{Table: m, IsTable: true}, nil
	default:
		return Param{}, fmt.Errorf("value of type %T cannot be passed to a worker", v)
	}
}

// DecodeParams converts parameters back into what the TOML decoder produced.
func DecodeParams(params map[string]Param) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for k, p := range params {
		out[k] = decodeParam(p, 0)
	}
	return out
}

func decodeParam(p Param, depth int) any {
	if depth > maxParamDepth {
		return nil
	}
	switch {
	case p.Int != nil:
		return *p.Int
	case p.Float != nil:
		return *p.Float
	case p.Str != nil:
		return *p.Str
	case p.Bool != nil:
		return *p.Bool
	case p.Time != nil:
		return *p.Time
	case p.IsList:
		l := make([]any, len(p.List))
		for i, e := range p.List {
			l[i] = decodeParam(e, depth+1)
		}
		return l
	case p.IsTable:
		m := make(map[string]any, len(p.Table))
		for k, e := range p.Table {
			m[k] = decodeParam(e, depth+1)
		}
		return m
	}
	return nil
}

func encodeList[E any](x []E, depth int) (Param, error) {
	l := make([]Param, len(x))
	for i, e := range x {
		p, err := encodeParam(e, depth+1)
		if err != nil {
			return Param{}, err
		}
		l[i] = p
	}
	return Param{List: l, IsList: true}, nil
}
