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
	header := http.Header{}
	header.Set("Content-Type", "application/x-www-form-urlencoded")
	header.Set("Accept", "application/json")
	resp, err := connectors.Do(ctx, client, connectors.Call{
		Service: service, Method: http.MethodPost, URL: c.tokenURL.String(), Header: header,
		Body: []byte(form.Encode()), MaxBody: MaxResponseBody,
	})
	if err != nil {
		return "", err
	}
	raw := resp.Body
	var tr tokenResponse
	_ = json.Unmarshal(raw, &tr)
	if resp.Status < 200 || resp.Status > 299 {
		excerpt := connectors.Excerpt(raw, connectors.ExcerptLen)
		if tr.Error != "" {
			excerpt = tr.Error
			if tr.ErrorDescription != "" {
				excerpt += ": " + tr.ErrorDescription
			}
		}
		herr := &connectors.HTTPError{Service: service, Status: resp.Status, Excerpt: excerpt}
		if resp.Status == http.StatusTooManyRequests || resp.Status >= 500 {
			return "", &connectors.StepError{Retryable: true, Status: resp.Status, Err: herr,
				RetryAfter: connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		}
		return "", &connectors.StepError{Status: resp.Status, Err: fmt.Errorf("%w (check the connection's client id and secret)", herr)}
	}
	if tr.AccessToken == "" {
		return "", connectors.Permanentf("%s: %d: the answer holds no access_token", service, resp.Status)
	}
	if tt := tr.TokenType; tt != "" && !strings.EqualFold(tt, "Bearer") {
		return "", connectors.Permanentf("%s: unsupported token_type %q", service, tt)
	}
	if !connectors.ValidHeaderValue(tr.AccessToken) {
		return "", connectors.Permanentf("%s: the access token holds a control character", service)
	}
	return tr.AccessToken, nil
}
