// Package keyring encrypts data at rest with AES-256-GCM under keys from config, with rotation:
// the newest key seals, every listed key opens, and Sealed tells which records still need
// `tiltas rekey`. It is the bot.Sealer the Redis store puts every record and queued message through.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Key is one 32-byte key and its ID (stored with each sealed value).
type Key struct {
	ID     string
	Secret []byte
}

// Keyring seals with its first key and opens with any.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// magic starts every sealed value; values without it are plain, written before encryption was
// turned on, and are read as they are until rekeyed.
const magic = 0xA5

// ErrUnknownKey means a value was sealed with a key no longer in config.
var ErrUnknownKey = errors.New("sealed with an unknown key")

// New returns a keyring; keys are newest first.
func New(keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	k := &Keyring{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range keys {
		if len(key.Secret) != 32 {
			return nil, fmt.Errorf("keyring: key %s: want 32 bytes, got %d", key.ID, len(key.Secret))
		}
		if len(key.ID) == 0 || len(key.ID) > 255 {
			return nil, fmt.Errorf("keyring: key id %q: want 1-255 bytes", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// Seal encrypts plain under the newest key: magic, key ID length, key ID, nonce, ciphertext.
// The key ID is authenticated too.
func (k *Keyring) Seal(plain []byte) ([]byte, error) {
	aead := k.aeads[k.current]
	out := make([]byte, 0, 2+len(k.current)+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, magic, byte(len(k.current)))
	out = append(out, k.current...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, out[:2+len(k.current)]), nil
}

// Open decrypts a sealed value with whichever listed key sealed it; a plain value (no magic byte)
// is returned as it is.
func (k *Keyring) Open(sealed []byte) ([]byte, error) {
	id, ok := keyID(sealed)
	if !ok {
		return sealed, nil
	}
	aead := k.aeads[id]
	if aead == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	head := 2 + len(id)
	if len(sealed) < head+aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("keyring: sealed value too short")
	}
	nonce := sealed[head : head+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[head+aead.NonceSize():], sealed[:head])
	if err != nil {
		return nil, fmt.Errorf("keyring: open: %w", err)
	}
	return plain, nil
}

// Sealed reports whether v was sealed by a keyring (with any key), so that a store without keys
// can say so instead of failing to read it as plain data.
func Sealed(v []byte) bool {
	_, ok := keyID(v)
	return ok
}

// KeyID names the key v was sealed with; ok is false for a plain value.
func KeyID(v []byte) (id string, ok bool) { return keyID(v) }

// Current reports whether v is sealed with the newest key (false for plain values).
func (k *Keyring) Current(v []byte) bool {
	id, ok := keyID(v)
	return ok && id == k.current
}

func keyID(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != magic || len(v) < 2+int(v[1]) {
		return "", false
	}
	return string(v[2 : 2+int(v[1])]), true
}
