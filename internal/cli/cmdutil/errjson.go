package cmdutil

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/wasmcollector/wasmcollector/registry"
)

// ErrorDoc is what a command run with `-o json` prints when it fails: one JSON object, so that a
// program reading the output never has to parse a line of text.
type ErrorDoc struct {
	// Error is the message the text mode prints after "wasmcollector: ".
	Error string `json:"error"`
	// Code names the exit code: failed, bad_input, partial, lock_held ([CodeName]).
	Code string `json:"code"`
	// ExitCode is the process's exit code.
	ExitCode int `json:"exit_code"`
	// Problems lists the registry's problems when it could not be loaded, as `validate -o json`
	// does.
	Problems []ProblemDoc `json:"problems,omitempty"`
}

// ProblemDoc is one registry problem in an [ErrorDoc].
type ProblemDoc struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// CodeName is the stable name of an exit code in [ErrorDoc]: "ok", "failed", "bad_input",
// "partial", "lock_held", or "exit_N" for any other.
func CodeName(code int) string {
	switch code {
	case ExitOK:
		return "ok"
	case ExitFailed:
		return "failed"
	case ExitBadInput:
		return "bad_input"
	case ExitPartial:
		return "partial"
	case ExitLockHeld:
		return "lock_held"
	}
	return "exit_" + strconv.Itoa(code)
}

// WriteErrorJSON writes err, which ends the command with exit code code, as an [ErrorDoc].
func WriteErrorJSON(w io.Writer, err error, code int) error {
	doc := ErrorDoc{Error: strings.ReplaceAll(err.Error(), "\n", "; "), Code: CodeName(code), ExitCode: code}
	var problems registry.Problems
	if errors.As(err, &problems) {
		doc.Error = Count(len(problems), "problem", "problems") + " in the registry"
		for _, p := range problems {
			doc.Problems = append(doc.Problems, ProblemDoc{File: p.File, Line: p.Line, Field: p.Field, Message: p.Message})
		}
	}
	return WriteJSON(w, doc)
}

// WantsJSON reports whether the command line asks for JSON output: the last of `-o json`,
// `-ojson`, `-o=json`, `--output json` or `--output=json` before a "--". It reads the arguments
// themselves, so that a command line cobra refused (a bad flag before -o) still gets its error
// as JSON.
func WantsJSON(args []string) bool {
	json := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "--":
			return json
		case a == "-o" || a == "--output":
			if i+1 >= len(args) {
				return json
			}
			i++
			v = args[i]
		case strings.HasPrefix(a, "--output="):
			v = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			v = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		default:
			continue
		}
		json = v == string(OutputJSON)
	}
	return json
}
