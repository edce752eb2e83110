// Package e2e holds end-to-end tests across the whole flow: real guests built from source, a real
// gather through the CLI, real uploads over loopback HTTP to the ingress receiver, and the
// bookkeeping on disk. It has no code of its own.
package e2e
