package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tokenPrefix marks Switchyard API tokens, so leaked ones are easy to spot.
const tokenPrefix = "syt_"

// HashToken is how a token is kept: only its SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Tokens lists API tokens (never the tokens themselves).
func (a *Service) Tokens(ctx context.Context) ([]TokenRecord, error) { return a.store.Tokens(ctx) }

// RevokeToken deletes an API token by id.
func (a *Service) RevokeToken(ctx context.Context, id string) error {
	return a.store.DeleteToken(ctx, id)
}

// CreateToken makes a new API token, stores its hash and returns the token
// itself, which is shown once and never again.
func (a *Service) CreateToken(ctx context.Context, name string) (string, TokenRecord, error) {
	s := a.store
	name = strings.TrimSpace(name)
	if name == "" {
		return "", TokenRecord{}, errors.New("token: name is required")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenRecord{}, fmt.Errorf("token: %w", err)
	}
	tok := tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	idRaw := make([]byte, 6)
	_, _ = rand.Read(idRaw)
	rec := TokenRecord{
		ID:        "tok_" + hex.EncodeToString(idRaw),
		Name:      name,
		Hash:      HashToken(tok),
		Prefix:    tok[:len(tokenPrefix)+6],
		CreatedAt: time.Now().UTC(),
	}
	if err := s.PutToken(ctx, rec); err != nil {
		return "", TokenRecord{}, err
	}
	return tok, rec, nil
}

// VerifyToken returns the record of a valid token.
func (a *Service) VerifyToken(ctx context.Context, token string) (TokenRecord, bool) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return TokenRecord{}, false
	}
	rec, err := a.store.TokenByHash(ctx, HashToken(token))
	if err != nil {
		return TokenRecord{}, false
	}
	return rec, true
}
