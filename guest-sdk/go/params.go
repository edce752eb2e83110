package collector

import (
	"encoding/json"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Param returns the collector's TOML parameter name (from [collector.params]) as text: strings as
// themselves, numbers and booleans as their TOML text ("42", "1.5", "true"), dates as RFC 3339,
// arrays and tables as JSON. ok is false when there is no such parameter, when name is over 4 KiB,
// and outside a host. A value of any length is read: the SDK retries with a larger buffer.
func Param(name string) (value string, ok bool) {
	np, nn := stringArg(name)
	b, st := readValue(func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32 {
		return hostParam(np, nn, buf, bufCap, lenOut)
	})
	runtime.KeepAlive(name)
	if st != uint32(abi.OK) {
		return "", false
	}
	return string(b), true
}

// Params decodes the whole parameter table, read with params_json as one JSON object ("{}" when
// there are none), into v with encoding/json. Fields of v that no parameter names keep their value,
// so defaults can be set before the call:
//
//	p := struct {
//		Scale int `json:"scale"`
//	}{Scale: 1}
//	if err := collector.Params(&p); err != nil {
//		return err
//	}
//
// It returns a *[StatusError] when the host refuses, [ErrNoHost] outside a host, or the decoding
// error (a parameter of the wrong type), wrapped.
func Params(v any) error {
	b, st := readValue(hostParamsJSON)
	if err := statusErr(abi.FuncParamsJSON, st); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("collector: params: %w", err)
	}
	return nil
}
