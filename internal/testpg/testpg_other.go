//go:build !linux

package testpg

import "syscall"

// serverProcAttr runs postgres as cred. Without a parent-death signal on
// this system, a test binary that dies without stopping the server leaves it
// running.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
