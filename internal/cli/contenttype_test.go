package cli_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// TestValidateWarnsContentType: a [shipping] url without content_type is valid, but validate
// warns that the default type is taken only by an ingress configured for it, in text and JSON.
func TestValidateWarnsContentType(t *testing.T) {
	registry := func(contentType string) string {
		return testguests.Registry(t, map[string]string{"pointers.wasm": testguests.WAT(t, "pointers")},
			"[shipping]\nurl = \"https://console.example/api/ingress/v1/upload\"\nauth = \"none\"\n"+contentType+`
[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"
`)
	}
	reg := registry("")
	out, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 0, code, "a warning is not a problem: %s%s", out, errs)
	assert.Regexp(t, `(?m)^warning: `+regexp.QuoteMeta(reg)+`:\d+: shipping.content_type: not set: uploads go as application/vnd.redhat.wasmcollector.analytics\+tgz, `, out)
	assert.Contains(t, out, "set content_type to the type the ingress routes for this product (AWX's is application/vnd.redhat.tower.tower_payload+tgz)\n")
	assert.Contains(t, out, reg+": ok")

	out, _, code = runCLI(t, "validate", "-c", reg, "-o", "json")
	require.Equal(t, 0, code)
	var report struct {
		Valid    bool
		Warnings []struct {
			File, Field, Message string
			Line                 int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	assert.True(t, report.Valid)
	require.Len(t, report.Warnings, 1)
	assert.Equal(t, "shipping.content_type", report.Warnings[0].Field)
	assert.Positive(t, report.Warnings[0].Line)

	out, _, code = runCLI(t, "validate", "-c", registry("content_type = \"application/vnd.redhat.tower.tower_payload+tgz\"\n"))
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "warning")
}
