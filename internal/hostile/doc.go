// Package hostile builds hostile inputs for tests: tarballs that attack the readers of
// packaging, `wasmcollector inspect` and the ingress (huge member names, many members, control
// characters in names). Each builder makes its input cheaply, in memory, so that tests can send
// the attack as reported without taking long to build it.
package hostile
