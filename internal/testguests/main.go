package testguests

import (
	"fmt"
	"os"
	"testing"
)

// MainTB returns a testing.TB for a TestMain, where no *testing.T exists yet: its Fatal panics,
// its TempDir is removed by the returned cleanup. It lets TestMain build the guests that Example
// functions (which get no testing.T) use, with the same helpers and cache as the tests.
func MainTB() (tb testing.TB, cleanup func()) {
	m := &mainTB{}
	return m, func() {
		for i := len(m.cleanups) - 1; i >= 0; i-- {
			m.cleanups[i]()
		}
	}
}

// mainTB implements the part of testing.TB the helpers of this package call; the embedded nil
// interface supplies the unexported method, and any other method panics if called.
type mainTB struct {
	testing.TB
	cleanups []func()
}

func (*mainTB) Helper()                      {}
func (*mainTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (*mainTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (*mainTB) Logf(string, ...any)          {}
func (m *mainTB) Cleanup(f func())           { m.cleanups = append(m.cleanups, f) }

func (m *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "wasmcollector-main-")
	if err != nil {
		panic(err)
	}
	m.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
