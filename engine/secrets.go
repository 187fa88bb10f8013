package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFileName is the secret key file in the data directory. It lives beside
// the database, not inside it, so a copy of the database alone reveals no
// credential.
const KeyFileName = "switchyard.key"

// Sentinel errors of the keyring.
var (
	ErrWrongKey = errors.New("secret key does not match the key the data was encrypted with")
	ErrBadKey   = errors.New("secret key must be 32 bytes, written as 64 hex digits or base64")
)

// Keyring seals and opens secrets with AES-256-GCM.
type Keyring struct {
	aead cipher.AEAD
}

// NewKeyring makes a keyring from a 32-byte key.
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) != 32 {
		return nil, ErrBadKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Keyring{aead: aead}, nil
}

// ParseKey reads a key written as 64 hex digits or standard base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, ErrBadKey
}

// LoadOrCreateKey returns the key from env when set, else from the key
// file in dir, creating the file (mode 0600) with a random key when missing.
func LoadOrCreateKey(dir, env string) ([]byte, error) {
	if env != "" {
		k, err := ParseKey(env)
		if err != nil {
			return nil, fmt.Errorf("keyring: SWITCHYARD_SECRET_KEY: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(dir, KeyFileName)
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("keyring: %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keyring: read %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: create data dir: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keyring: generate key: %w", err)
	}
	// O_EXCL: two processes racing to create the key must not both win.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: create %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("keyring: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("keyring: sync %s: %w", path, err)
	}
	return k, f.Close()
}

// Seal encrypts plaintext, binding it to aad (e.g. the connection name) so a
// sealed value cannot be moved to another record.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("keyring: no randomness: " + err.Error())
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal produced; a wrong key or tampered data gives
// ErrWrongKey, never garbage.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrWrongKey
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return out, nil
}
