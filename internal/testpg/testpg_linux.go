package testpg

import "syscall"

// serverProcAttr runs postgres as cred, and has the kernel send it SIGQUIT
// (immediate shutdown) should the test binary die without stopping it.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
