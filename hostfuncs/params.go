package hostfuncs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// paramTable is the text form of a collector's parameters, built on first use.
type paramTable struct {
	values map[string][]byte
	all    []byte
}

func (inv *Invocation) paramTable() *paramTable {
	if inv.params == nil {
		t := &paramTable{values: make(map[string][]byte, len(inv.req.Params))}
		for k, v := range inv.req.Params {
			t.values[k] = paramText(v)
		}
		all, err := json.Marshal(jsonSafe(inv.req.Params))
		if err != nil || inv.req.Params == nil {
			all = []byte("{}")
		}
		t.all = all
		inv.params = t
	}
	return inv.params
}

// paramText renders one TOML value as ABI.md "param" describes: strings as text, scalars as their
// TOML text, dates as RFC 3339, arrays and tables as JSON.
func paramText(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case int64:
		return strconv.AppendInt(nil, x, 10)
	case int:
		return strconv.AppendInt(nil, int64(x), 10)
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(nil, x)
	case time.Time:
		return []byte(x.Format(time.RFC3339Nano))
	default:
		b, err := json.Marshal(jsonSafe(v))
		if err != nil {
			return []byte(fmt.Sprint(v))
		}
		return b
	}
}

// jsonSafe turns values encoding/json cannot take (TOML's NaN and Inf) into strings.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308 {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	default:
		return v
	}
}

// answer writes value into the guest's buffer per the buf/cap/len_out convention of ABI.md.
func answer(m api.Module, fn string, value []byte, buf, capacity, lenOut uint32) uint64 {
	writeU32(m, fn, lenOut, uint32(len(value)))
	if uint32(len(value)) > capacity {
		return uint64(abi.BufferTooSmall)
	}
	writeBytes(m, fn, buf, value)
	return uint64(abi.OK)
}

// param implements param(name_ptr, name_len, buf_ptr, buf_cap, len_out_ptr) -> status: see ABI.md
// "param".
func param(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	namePtr, nameLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	buf, capacity, lenOut := api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	const fn = abi.FuncParam
	if nameLen > maxMessageBytes {
		stack[0] = uint64(abi.TooLarge)
		return
	}
	name := read(m, fn, namePtr, nameLen)
	v, ok := inv.paramTable().values[string(name)]
	if !ok {
		stack[0] = uint64(abi.NotFound)
		return
	}
	stack[0] = answer(m, fn, v, buf, capacity, lenOut)
}

// paramsJSON implements params_json(buf_ptr, buf_cap, len_out_ptr) -> status: see ABI.md
// "params_json".
func paramsJSON(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	buf, capacity, lenOut := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	stack[0] = answer(m, abi.FuncParamsJSON, inv.paramTable().all, buf, capacity, lenOut)
}
