package hostfuncs

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

const i32 = api.ValueTypeI32

// functions is the host module of ABI v1, in ABI.md order.
var functions = []struct {
	name    string
	fn      api.GoModuleFunc
	params  []string
	results []api.ValueType
}{
	{abi.FuncEmitJSON, emitJSON, []string{"ptr", "len"}, []api.ValueType{i32}},
	{abi.FuncCSVHeader, csvHeader, []string{"ptr", "len"}, []api.ValueType{i32}},
	{abi.FuncCSVRows, csvRows, []string{"ptr", "len"}, []api.ValueType{i32}},
	{abi.FuncSliceBounds, sliceBounds, []string{"out_ptr"}, []api.ValueType{i32}},
	{abi.FuncCollectionType, collectionType, nil, []api.ValueType{i32}},
	{abi.FuncParam, param, []string{"name_ptr", "name_len", "buf_ptr", "buf_cap", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncParamsJSON, paramsJSON, []string{"buf_ptr", "buf_cap", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncLog, logMessage, []string{"level", "ptr", "len"}, []api.ValueType{i32}},
	{abi.FuncFail, fail, []string{"ptr", "len"}, []api.ValueType{i32}},
	{abi.FuncDBQuery, dbQuery, []string{"src_ptr", "src_len", "sql_ptr", "sql_len", "params_ptr", "params_len", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncDBResult, dbResultFn, []string{"buf_ptr", "buf_cap", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncDBStreamCSV, dbStreamCSV, []string{"src_ptr", "src_len", "sql_ptr", "sql_len", "params_ptr", "params_len", "rows_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncLastError, lastError, []string{"buf_ptr", "buf_cap", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncDBQueryRows, dbQueryRows, []string{"src_ptr", "src_len", "sql_ptr", "sql_len", "params_ptr", "params_len", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncDBRowsNext, dbRowsNext, []string{"buf_ptr", "buf_cap", "len_out_ptr"}, []api.ValueType{i32}},
	{abi.FuncDBStreamCSVTransform, dbStreamCSVTransform, []string{"src_ptr", "src_len", "sql_ptr", "sql_len", "params_ptr", "params_len", "spec_ptr", "spec_len", "rows_out_ptr"}, []api.ValueType{i32}},
}

// Instantiate adds the ABI v1 host module ("wasmcollector_v1") to r. Call it once per runtime,
// before instantiating guests; guests then find their state through [WithInvocation].
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(abi.ModuleName)
	for _, f := range functions {
		params := make([]api.ValueType, len(f.params))
		for i := range params {
			params[i] = i32
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, params, f.results).
			WithParameterNames(f.params...).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module %s: %w", abi.ModuleName, err)
	}
	return nil
}
