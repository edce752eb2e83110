package signature

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify: whatever a signature file holds (it is the vendor's, or an attacker's), Verify
// never panics, and never accepts one the key did not make: the only signatures that verify are
// the seed's own, over the seed's module.
func FuzzVerify(f *testing.F) {
	pub, _, sec, err := GenerateKey("")
	if err != nil {
		f.Fatal(err)
	}
	priv, err := ParsePrivateKey(sec, "")
	if err != nil {
		f.Fatal(err)
	}
	module, sidecar := []byte("\x00asm\x01\x00\x00\x00fuzz"), []byte("[[collector]]\n")
	good, err := Sign(priv, module, sidecar, "m.wasm", time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("untrusted comment: x\nRUQ=\ntrusted comment: wasmcollector-signature v1 sidecar-sha256=none timestamp=1 module=m.wasm\nAA==\n"))
	f.Add([]byte{})
	keys := []TrustedKey{{Name: "k", Pattern: "*", Key: pub}}
	f.Fuzz(func(t *testing.T, sig []byte) {
		res, err := Verify(Input{Name: "m.wasm", Module: module, Sidecar: sidecar, Signature: sig}, keys, time.Unix(0, 0))
		var se *Error
		switch {
		case err == nil && res == nil:
			t.Fatal("no result and no error")
		case err != nil && !errors.As(err, &se):
			t.Fatalf("error %v is not a *signature.Error", err)
		case err == nil && res.KeyID != KeyID(pub.ID()):
			t.Fatalf("accepted a signature by %s", res.KeyID)
		}
	})
}
