//go:build wasip1

// Command hostile is a Go guest whose exports each attack the sandbox the way a buggy or malicious
// Go collector would. It talks to the host through raw imports, not the SDK, so it can pass any
// value. Built by internal/testguests.Go; each export's comment says what it attacks.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unsafe"
)

//go:wasmimport wasmcollector_v1 emit_json
func emitJSON(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 csv_header
func csvHeader(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 csv_rows
func csvRows(ptr unsafe.Pointer, n uint32) uint32

func emit(v any) uint32 {
	b, _ := json.Marshal(v)
	return emitJSON(unsafe.Pointer(&b[0]), uint32(len(b)))
}

func main() {}

// ok is a well-behaved JSON collector.
//
//go:wasmexport ok
func ok() int32 { return int32(emit(map[string]any{"ok": true})) }

// go_panic panics: the Go runtime aborts with "unreachable" and prints the panic on stderr.
//
//go:wasmexport go_panic
func goPanic() int32 {
	var m map[string]int
	m["boom"] = 1 // assignment to entry in nil map
	return 0
}

var hoard [][]byte

// go_mem_bomb allocates until the memory limit stops it.
//
//go:wasmexport go_mem_bomb
func goMemBomb() int32 {
	for {
		b := make([]byte, 4<<20)
		for i := range b {
			b[i] = 1
		}
		hoard = append(hoard, b)
	}
}

var sink int

// go_spin never returns and never calls the host: only the deadline stops it.
//
//go:wasmexport go_spin
func goSpin() int32 {
	for i := 0; ; i++ {
		sink += i
	}
}

// go_sandbox_probe tries to reach the file system and the environment and reports what it got.
//
//go:wasmexport go_sandbox_probe
func goSandboxProbe() int32 {
	report := map[string]any{}
	if f, err := os.Open("/etc/passwd"); err != nil {
		report["open_error"] = err.Error()
	} else {
		b := make([]byte, 64)
		n, _ := f.Read(b)
		report["open_read"] = string(b[:n])
	}
	if entries, err := os.ReadDir("/"); err != nil {
		report["readdir_error"] = err.Error()
	} else {
		report["readdir_count"] = len(entries)
	}
	if err := os.WriteFile("/tmp/wasmcollector-escape", []byte("x"), 0o644); err != nil {
		report["write_error"] = err.Error()
	}
	report["env"] = os.Environ()
	report["home"] = os.Getenv("HOME")
	report["path"] = os.Getenv("PATH")
	report["args"] = os.Args
	wd, err := os.Getwd()
	report["wd"] = wd
	if err != nil {
		report["wd_error"] = err.Error()
	}
	return int32(emit(report))
}

// go_exit calls os.Exit(3) in the middle of a collection.
//
//go:wasmexport go_exit
func goExit() int32 {
	os.Exit(3)
	return 0
}

// go_stdout_flood prints 8 MiB to stdout and stderr, then succeeds.
//
//go:wasmexport go_stdout_flood
func goStdoutFlood() int32 {
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < 8<<10; i++ {
		fmt.Fprint(os.Stdout, line)
		fmt.Fprint(os.Stderr, line)
	}
	return int32(emit(map[string]any{"printed": true}))
}

// go_csv_ignores_refusal keeps sending rows after the host refuses them and returns 0.
//
//go:wasmexport go_csv_ignores_refusal
func goCSVIgnoresRefusal() int32 {
	h := []byte{1, 0, 0, 0, 1, 0, 0, 0, 'a'}
	csvHeader(unsafe.Pointer(&h[0]), uint32(len(h)))
	bad := []byte{2, 0, 0, 0, 1, 0, 0, 0, 'x', 1, 0, 0, 0, 'y'} // two fields, header has one
	for i := 0; i < 3; i++ {
		csvRows(unsafe.Pointer(&bad[0]), uint32(len(bad)))
	}
	return 0
}

// go_mount_probe reads inside and around a mount at /data and reports what it got: the host
// grants /data (holding ok.txt, sub/, and link.txt, a symlink to a file outside) and the variable
// GRANTED.
//
//go:wasmexport go_mount_probe
func goMountProbe() int32 {
	report := map[string]any{}
	for _, p := range []string{"/data/ok.txt", "/data/sub/../ok.txt", "/data/../outside.txt", "/data/link.txt", "/data/sub/up.txt", "/outside.txt", "/etc/passwd"} {
		if b, err := os.ReadFile(p); err != nil {
			report[p] = "error: " + err.Error()
		} else {
			report[p] = string(b)
		}
	}
	if entries, err := os.ReadDir("/data"); err == nil {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		report["list"] = names
	}
	if err := os.WriteFile("/data/new.txt", []byte("x"), 0o644); err != nil {
		report["write"] = "error: " + err.Error()
	} else {
		report["write"] = "ok"
	}
	report["GRANTED"] = os.Getenv("GRANTED")
	report["HOME"] = os.Getenv("HOME")
	return int32(emit(report))
}
