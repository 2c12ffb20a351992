package keyring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tiltas/tiltas/keyring"
)

func key(id string, b byte) keyring.Key {
	return keyring.Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)}
}

func TestRotation(t *testing.T) {
	old, _ := keyring.New([]keyring.Key{key("k1", 1)})
	sealedOld, err := old.Seal([]byte(`{"text":"Mėlynės ant rankų"}`))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealedOld, []byte("Mėlynės")) {
		t.Fatal("sealed value holds the plain text")
	}
	rotated, _ := keyring.New([]keyring.Key{key("k2", 2), key("k1", 1)})
	plain, err := rotated.Open(sealedOld)
	if err != nil || string(plain) != `{"text":"Mėlynės ant rankų"}` {
		t.Fatalf("old key no longer opens: %q %v", plain, err)
	}
	if rotated.Current(sealedOld) {
		t.Error("a value sealed with the old key counts as current")
	}
	sealedNew, _ := rotated.Seal(plain)
	if !rotated.Current(sealedNew) {
		t.Error("newest key not used")
	}
	dropped, _ := keyring.New([]keyring.Key{key("k2", 2)})
	if _, err := dropped.Open(sealedOld); !errors.Is(err, keyring.ErrUnknownKey) {
		t.Errorf("opening with a dropped key: %v", err)
	}
	// Plain values from before encryption was turned on are read as they are.
	if p, err := rotated.Open([]byte(`{"a":1}`)); err != nil || string(p) != `{"a":1}` {
		t.Errorf("plain value: %q %v", p, err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	k, _ := keyring.New([]keyring.Key{key("k1", 1)})
	s, _ := k.Seal([]byte("secret"))
	for i := range s {
		bad := bytes.Clone(s)
		bad[i] ^= 0x01
		if p, err := k.Open(bad); err == nil && string(p) == "secret" && i > 1 {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
}
