package salesforce

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// tokenTTL bounds how long a fetched token is reused without a refusal.
// Salesforce does not say when a client-credentials token expires (the
// session timeout of the run-as user decides), so the cache relies on
// INVALID_SESSION_ID and refreshes at least this often.
const tokenTTL = time.Hour

// tokenKey identifies a cached token: the token URL, the client id and a
// hash of the secret, so that a connection with a wrong secret never
// borrows the token another connection fetched with the right one.
type tokenKey struct {
	url, clientID string
	secret        [sha256.Size]byte
}

// tokenEntry is one cached token. Its mutex is held while fetching, so
// concurrent steps that need the same token fetch it once.
type tokenEntry struct {
	mu      sync.Mutex
	token   string
	fetched time.Time
}

type tokenCache struct {
	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
	now     func() time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: map[tokenKey]*tokenEntry{}, now: time.Now}
}

func (tc *tokenCache) entry(c *conn) *tokenEntry {
	key := tokenKey{url: c.tokenURL.String(), clientID: c.clientID, secret: sha256.Sum256([]byte(c.clientSecret))}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[key]
	if !ok {
		e = &tokenEntry{}
		tc.entries[key] = e
	}
	return e
}

// get returns a cached token, or fetches one. stale, when not empty, is a
// token the API refused: unless another step already replaced it, a new
// one is fetched.
func (tc *tokenCache) get(ctx context.Context, client *http.Client, c *conn, stale string) (string, error) {
	e := tc.entry(c)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token != "" && e.token != stale && tc.now().Sub(e.fetched) < tokenTTL {
		return e.token, nil
	}
	token, err := fetchToken(ctx, client, c)
	if err != nil {
		e.token = ""
		return "", err
	}
	e.token, e.fetched = token, tc.now()
	return token, nil
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	InstanceURL      string `json:"instance_url"`
	TokenType        string `json:"token_type"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// fetchToken runs the OAuth 2.0 client-credentials flow: a form POST of
// grant_type, client_id and client_secret to the token URL.
func fetchToken(ctx context.Context, client *http.Client, c *conn) (string, error) {
	service := "salesforce: token request: POST " + c.tokenURL.String()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.clientID},
		"client_secret": {c.clientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", connectors.Permanent(fmt.Errorf("%s: %w", service, err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return "", transportError(ctx, err, service)
	}
	defer resp.Body.Close()
	raw, err := connectors.ReadBody(resp.Body, MaxResponseBody)
	if err != nil {
		return "", transportError(ctx, err, service)
	}
	var tr tokenResponse
	_ = json.Unmarshal(raw, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		excerpt := connectors.Excerpt(raw, connectors.ExcerptLen)
		if tr.Error != "" {
			excerpt = tr.Error
			if tr.ErrorDescription != "" {
				excerpt += ": " + tr.ErrorDescription
			}
		}
		herr := &connectors.HTTPError{Service: service, Status: resp.StatusCode, Excerpt: excerpt}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return "", &connectors.StepError{Retryable: true, Status: resp.StatusCode, Err: herr,
				RetryAfter: connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		}
		return "", &connectors.StepError{Status: resp.StatusCode, Err: fmt.Errorf("%w (check the connection's client id and secret)", herr)}
	}
	if tr.AccessToken == "" {
		return "", connectors.Permanentf("%s: %d: the answer holds no access_token", service, resp.StatusCode)
	}
	if tt := tr.TokenType; tt != "" && !strings.EqualFold(tt, "Bearer") {
		return "", connectors.Permanentf("%s: unsupported token_type %q", service, tt)
	}
	if !connectors.ValidHeaderValue(tr.AccessToken) {
		return "", connectors.Permanentf("%s: the access token holds a control character", service)
	}
	return tr.AccessToken, nil
}
