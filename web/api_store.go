package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// The data store's API: /api/store/{namespace}/{key}. Keys may hold any
// text; in the path they are percent-encoded ("a%2Fb" is the key "a/b").

// kvPutRequest is the body of PUT /api/store/{namespace}/{key}.
type kvPutRequest struct {
	// Value is any JSON value, stored as sent (without insignificant
	// white space).
	Value engine.KVValue `json:"value"`
	// TTL, a duration such as "24h", makes the value expire; empty keeps
	// it until it is replaced or deleted.
	TTL string `json:"ttl,omitempty"`
}

// kvNamespaceList is the answer of GET /api/store.
type kvNamespaceList struct {
	Namespaces []engine.KVNamespace `json:"namespaces"`
}

// kvParams reads the namespace and key of a path.
func kvParams(c *fiber.Ctx) (namespace, key string, err error) {
	namespace, err = url.PathUnescape(c.Params("namespace"))
	if err != nil {
		return "", "", kvFieldError("namespace", "not a valid percent-encoded path segment")
	}
	key, err = url.PathUnescape(c.Params("key"))
	if err != nil {
		return "", "", kvFieldError("key", "not a valid percent-encoded path segment")
	}
	return namespace, key, nil
}

func kvFieldError(field, msg string) error {
	return fieldError(field, msg)
}

// kvProblem is how a data store refusal answers: 400 naming the field,
// 413 past a limit, 422 for an increment of text; 501 when the store
// keeps no data store.
func kvProblem(err error) (int, errorBody, bool) {
	var ke *engine.KVError
	switch {
	case errors.As(err, &ke):
		status := fiber.StatusBadRequest
		if errors.Is(err, engine.ErrKVLimit) {
			status = fiber.StatusRequestEntityTooLarge
		} else if errors.Is(err, engine.ErrKVNotNumber) {
			status = fiber.StatusUnprocessableEntity
		}
		return status, errorBody{Error: err.Error(), Details: []flows.FieldError{{Field: ke.Field, Message: ke.Msg}}}, true
	case errors.Is(err, engine.ErrKVUnavailable):
		return fiber.StatusNotImplemented, errorBody{Error: err.Error()}, true
	}
	return 0, errorBody{}, false
}

// listKVNamespaces answers GET /api/store.
func (s *Server) listKVNamespaces(c *fiber.Ctx) error {
	nss, err := s.eng.KVNamespaces(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(kvNamespaceList{Namespaces: nss})
}

// listKV answers GET /api/store/{namespace}?after=&limit=.
func (s *Server) listKV(c *fiber.Ctx) error {
	ns, _, err := kvParams(c)
	if err != nil {
		return err
	}
	limit := 0
	if q := c.Query("limit"); q != "" {
		if limit, err = strconv.Atoi(q); err != nil || limit < 1 {
			return kvFieldError("limit", "must be a whole number from 1")
		}
	}
	page, err := s.eng.KVList(c.UserContext(), ns, c.Query("after"), limit)
	if err != nil {
		return err
	}
	return sendKV(c, page)
}

// getKV answers GET /api/store/{namespace}/{key}.
func (s *Server) getKV(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	e, err := s.eng.KVGet(c.UserContext(), ns, key)
	if err != nil {
		return err
	}
	return sendKV(c, e)
}

// sendKV answers with v as JSON, values exactly as stored: encoding/json
// would escape <, > and & inside them.
func sendKV(c *fiber.Ctx, v any) error {
	b, err := connectors.EncodeJSON(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// putKV answers PUT /api/store/{namespace}/{key}.
func (s *Server) putKV(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	var req kvPutRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	value, ttl, err := kvInput(req)
	if err != nil {
		return err
	}
	e, err := s.eng.KVPut(c.UserContext(), ns, key, value, ttl)
	if err != nil {
		return err
	}
	return sendKV(c, e)
}

// kvInput checks a value and time to live as the API and the UI take
// them.
func kvInput(req kvPutRequest) (engine.KVValue, time.Duration, error) {
	if len(req.Value) == 0 {
		return nil, 0, kvFieldError("value", "required")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, req.Value); err != nil {
		return nil, 0, kvFieldError("value", "not a JSON value")
	}
	var ttl time.Duration
	if t := strings.TrimSpace(req.TTL); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return nil, 0, kvFieldError("ttl", `want a duration such as "24h" or "30m"`)
		}
		ttl = d
	}
	return compact.Bytes(), ttl, nil
}

// deleteKV answers DELETE /api/store/{namespace}/{key}: 204, or 404 when
// there was no value.
func (s *Server) deleteKV(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	if err := s.eng.KVDelete(c.UserContext(), ns, key); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
