package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// The Data store page: namespaces, their values, and forms to add, edit
// and delete a value. A value is typed as text, a number, yes/no or (for
// lists and objects) JSON, so a simple value never has to be written as
// JSON.

// storePage answers GET /store: every namespace.
func (s *Server) storePage(c *fiber.Ctx) error {
	nss, err := s.eng.KVNamespaces(c.UserContext())
	if err != nil {
		return err
	}
	p := views.StoreProps{Page: s.pageProps(c, "Data store", "store"), Form: s.newStoreForm(c, "")}
	for _, n := range nss {
		_, ferr := s.eng.Flow(n.Name)
		p.Namespaces = append(p.Namespaces, views.StoreNamespace{Name: n.Name, Keys: n.Keys, Bytes: n.Bytes, Flow: ferr == nil})
	}
	return render(c, fiber.StatusOK, views.Store(p))
}

func (s *Server) newStoreForm(c *fiber.Ctx, ns string) views.StoreForm {
	return views.StoreForm{Page: s.pageProps(c, "", "store"), New: true, Namespace: ns, Type: views.StoreText}
}

// storeNamespacePage answers GET /store/{namespace}?after=: its values, a
// page at a time.
func (s *Server) storeNamespacePage(c *fiber.Ctx) error {
	ns, _, err := kvParams(c)
	if err != nil {
		return err
	}
	page, err := s.eng.KVList(c.UserContext(), ns, c.Query("after"), 0)
	if err != nil {
		return err
	}
	p := views.StoreProps{Page: s.pageProps(c, "Data store: "+ns, "store"), Namespace: ns, Next: page.NextCursor, Form: s.newStoreForm(c, ns)}
	for _, e := range page.Entries {
		p.Entries = append(p.Entries, views.StoreEntry{Key: e.Key, Pretty: prettyJSON(e.Value), UpdatedAt: e.UpdatedAt, ExpiresAt: e.ExpiresAt})
	}
	return render(c, fiber.StatusOK, views.Store(p))
}

// prettyJSON is a value as indented JSON (as stored, should it not
// indent).
func prettyJSON(v []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		return string(v)
	}
	return buf.String()
}

// storeEditPage answers GET /store/{namespace}/{key}/edit: the form,
// filled with the value in the kind it has.
func (s *Server) storeEditPage(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	e, err := s.eng.KVGet(c.UserContext(), ns, key)
	if err != nil {
		return err
	}
	f := views.StoreForm{Page: s.pageProps(c, "Edit "+key, "store"), Namespace: ns, Key: key, Expires: e.ExpiresAt}
	f.Type, f.Value = formValue(e.Value)
	return render(c, fiber.StatusOK, views.StoreEdit(f))
}

// formValue picks the form's kind for a stored value and its text.
func formValue(v []byte) (kind, text string) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return views.StoreJSON, string(v)
	}
	switch t := x.(type) {
	case string:
		return views.StoreText, t
	case float64:
		return views.StoreNumber, string(bytes.TrimSpace(v))
	case bool:
		if t {
			return views.StoreBool, "yes"
		}
		return views.StoreBool, "no"
	}
	return views.StoreJSON, prettyJSON(v)
}

// parseFormValue turns the form's kind and text into the JSON stored.
func parseFormValue(kind, text string) (engine.KVValue, string) {
	switch kind {
	case views.StoreText:
		return jsonText(text), ""
	case views.StoreNumber:
		t := strings.TrimSpace(text)
		if _, err := strconv.ParseFloat(t, 64); err != nil || !json.Valid([]byte(t)) {
			return nil, "not a number: write digits such as 42, -7 or 3.5"
		}
		return engine.KVValue(t), ""
	case views.StoreBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "yes", "true", "on", "1":
			return engine.KVValue("true"), ""
		case "no", "false", "off", "0":
			return engine.KVValue("false"), ""
		}
		return nil, "write yes or no"
	case views.StoreJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(strings.TrimSpace(text))); err != nil {
			return nil, jsonProblem(strings.TrimSpace(text))
		}
		return engine.KVValue(buf.Bytes()), ""
	}
	return nil, "choose a kind of value"
}

// jsonText is text as a JSON string, with <, > and & as written (not
// escaped as encoding/json does by default).
func jsonText(text string) engine.KVValue {
	b, _ := connectors.EncodeJSON(text) // a string always encodes
	return engine.KVValue(b)
}

// storeSaveUI answers POST /store (a new value, namespace and key from
// the form) and POST /store/{namespace}/{key}/edit. Errors are shown next
// to their fields.
func (s *Server) storeSaveUI(c *fiber.Ctx) error {
	f := views.StoreForm{Page: s.pageProps(c, "Edit value", "store"), Type: c.FormValue("type"), Value: c.FormValue("value"),
		TTL: c.FormValue("ttl"), Errors: map[string][]string{}}
	if c.Params("namespace") == "" {
		f.New = true
		f.Namespace, f.Key = strings.TrimSpace(c.FormValue("namespace")), c.FormValue("key")
	} else {
		var err error
		if f.Namespace, f.Key, err = kvParams(c); err != nil {
			return err
		}
	}
	value, msg := parseFormValue(f.Type, f.Value)
	if msg != "" {
		f.Errors["value"] = append(f.Errors["value"], msg)
		return s.storeFormAgain(c, f)
	}
	value, ttl, err := kvInput(kvPutRequest{Value: value, TTL: f.TTL})
	if err == nil {
		_, err = s.eng.KVPut(c.UserContext(), f.Namespace, f.Key, value, ttl)
	}
	var ae *apiError
	var ke *engine.KVError
	switch {
	case err == nil:
		return redirect(c, "/store/"+url.PathEscape(f.Namespace)+"?flash=value-saved")
	case errors.As(err, &ke):
		f.Errors[ke.Field] = append(f.Errors[ke.Field], ke.Msg)
	case errors.As(err, &ae) && len(ae.details) > 0:
		f.Errors[ae.details[0].Field] = append(f.Errors[ae.details[0].Field], ae.details[0].Message)
	default:
		return err
	}
	return s.storeFormAgain(c, f)
}

// storeFormAgain shows a refused form again, with its errors, 422.
func (s *Server) storeFormAgain(c *fiber.Ctx, f views.StoreForm) error {
	if !f.New {
		return render(c, fiber.StatusUnprocessableEntity, views.StoreEdit(f))
	}
	p := views.StoreProps{Page: s.pageProps(c, "Data store", "store"), Form: f}
	if engine.CheckKVNamespace(f.Namespace) == nil {
		if page, err := s.eng.KVList(c.UserContext(), f.Namespace, "", 0); err == nil && len(page.Entries) > 0 {
			p.Namespace = f.Namespace
			for _, e := range page.Entries {
				p.Entries = append(p.Entries, views.StoreEntry{Key: e.Key, Pretty: prettyJSON(e.Value), UpdatedAt: e.UpdatedAt, ExpiresAt: e.ExpiresAt})
			}
		}
	}
	return render(c, fiber.StatusUnprocessableEntity, views.Store(p))
}

// storeDeletePage answers GET /store/{namespace}/{key}/delete: are you
// sure?
func (s *Server) storeDeletePage(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	e, err := s.eng.KVGet(c.UserContext(), ns, key)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.StoreDelete(views.StoreDeleteProps{Page: s.pageProps(c, "Delete value", "store"),
		Namespace: ns, Key: key, Pretty: prettyJSON(e.Value)}))
}

// storeDeleteUI answers POST /store/{namespace}/{key}/delete.
func (s *Server) storeDeleteUI(c *fiber.Ctx) error {
	ns, key, err := kvParams(c)
	if err != nil {
		return err
	}
	if err := s.eng.KVDelete(c.UserContext(), ns, key); err != nil {
		return err
	}
	return redirect(c, "/store/"+url.PathEscape(ns)+"?flash=value-deleted")
}
