package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
)

// SigningSecretPrefix begins every Standard Webhooks signing secret.
const SigningSecretPrefix = "whsec_"

// NewSigningSecret makes a Standard Webhooks signing secret: "whsec_"
// and the base64 of 32 random bytes, the key HMAC-SHA256 signs with.
func NewSigningSecret() string {
	var key [32]byte
	rand.Read(key[:])
	return SigningSecretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

// CreateSigningSecret stores a new signing secret as a connection of type
// secret named base (base_2, base_3, … when that is taken) and returns its
// name and the secret. This is the only time the secret is shown: like
// every connection it is kept sealed and never read back.
func (e *Engine) CreateSigningSecret(ctx context.Context, base string) (name, secret string, err error) {
	known, err := e.connectionTypes(ctx)
	if err != nil {
		return "", "", err
	}
	name = base
	for i := 2; known[name] != ""; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	secret = NewSigningSecret()
	if _, err := e.PutConnection(ctx, name, "secret", map[string]string{"value": secret}); err != nil {
		return "", "", fmt.Errorf("engine: create signing secret: %w", err)
	}
	return name, secret, nil
}
