package collector

import (
	"encoding/json"
	"fmt"
)

// EmitJSON marshals v with encoding/json and hands the document to the host with emit_json; it is
// how a JSON collector delivers its one document per invocation. It returns the marshalling error,
// a *[StatusError] when the host refuses the document (too_large, over_budget, wrong_state for a
// second document, wrong_format from a CSV collector), or [ErrNoHost] outside a host.
func EmitJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("collector: emit_json: %w", err)
	}
	return emitJSON(b)
}

// EmitJSONBytes hands an already encoded JSON document to the host with emit_json. The host checks
// that it is one valid JSON value in UTF-8. Errors are those of [EmitJSON].
func EmitJSONBytes(doc []byte) error {
	return emitJSON(doc)
}
