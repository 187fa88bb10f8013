package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// The Data store page: namespaces, their values, and forms to add, edit
// and delete a value. A value is typed as text, a number, yes/no, a list
// of text (a line each) or named values (rows), so that only lists and
// objects nested inside each other have to be written as JSON.

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
	return views.StoreForm{Page: s.pageProps(c, "", "store"), New: true, Namespace: ns, Type: views.StoreText, TTLUnit: "h"}
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
	f := views.StoreForm{Page: s.pageProps(c, "Edit "+key, "store"), Namespace: ns, Key: key, Expires: e.ExpiresAt, TTLUnit: "h"}
	f.Type, f.Value, f.Rows = formValue(e.Value)
	return render(c, fiber.StatusOK, views.StoreEdit(f))
}

// formValue picks the form's kind for a stored value (the first of
// StoreTypes it fits) and fills the form's inputs with it.
func formValue(v []byte) (kind, text string, rows []views.StoreRow) {
	for _, t := range views.StoreTypes {
		if text, rows, ok := formValueAs(t[0], v); ok {
			return t[0], text, rows
		}
	}
	return views.StoreJSON, string(v), nil
}

// formValueAs fills the form's inputs of kind with a stored value; ok is
// false when the value does not fit the kind (saving the inputs again
// would store another value).
func formValueAs(kind string, v []byte) (text string, rows []views.StoreRow, ok bool) {
	switch kind {
	case views.StoreJSON:
		return prettyJSON(v), nil, true
	case views.StoreObject:
		rows, ok = objectRows(v)
		return "", rows, ok
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return "", nil, false
	}
	switch t := x.(type) {
	case string:
		return t, nil, kind == views.StoreText
	case float64:
		return string(bytes.TrimSpace(v)), nil, kind == views.StoreNumber
	case bool:
		return yesNo(t), nil, kind == views.StoreBool
	case []any:
		if kind != views.StoreList || len(t) == 0 {
			return "", nil, false
		}
		lines := make([]string, len(t))
		for i, e := range t {
			s, isText := e.(string)
			if !isText || !fitsLine(s) {
				return "", nil, false
			}
			lines[i] = s
		}
		return strings.Join(lines, "\n"), nil, true
	}
	return "", nil, false
}

// fitsLine reports whether text survives being a line of its own in a
// text box and read back (trimmed, with empty lines left out).
func fitsLine(s string) bool {
	return s != "" && s == strings.TrimSpace(s) && !strings.ContainsAny(s, "\r\n")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// objectRows reads an object of text, numbers and yes/no as rows, in its
// members' order; ok is false for anything else (another kind of value,
// members nested or null, a name given twice or not as saving trims it,
// text on several lines).
func objectRows(v []byte) (rows []views.StoreRow, ok bool) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		name, isName := tok.(string)
		if err != nil || !isName || name == "" || seen[name] || !fitsLine(name) {
			return nil, false
		}
		seen[name] = true
		if tok, err = d.Token(); err != nil {
			return nil, false
		}
		row := views.StoreRow{Name: name}
		switch t := tok.(type) {
		case string:
			if strings.ContainsAny(t, "\r\n") {
				return nil, false // an input of one line could not give it back
			}
			row.Type, row.Value = views.StoreText, t
		case json.Number:
			row.Type, row.Value = views.StoreNumber, t.String()
		case bool:
			row.Type, row.Value = views.StoreBool, yesNo(t)
		default:
			return nil, false
		}
		rows = append(rows, row)
	}
	return rows, len(rows) > 0
}

// parseFormValue turns the form's kind and inputs into the JSON stored;
// the message says what is wrong with them otherwise.
func parseFormValue(kind, text string, rows []views.StoreRow) (engine.KVValue, string) {
	switch kind {
	case views.StoreText:
		return jsonText(text), ""
	case views.StoreNumber, views.StoreBool:
		return scalarValue(kind, text)
	case views.StoreList:
		var items []string
		for line := range strings.Lines(text) {
			if item := strings.TrimSpace(line); item != "" {
				items = append(items, item)
			}
		}
		if len(items) == 0 {
			return nil, "write at least one item, one per line"
		}
		b, _ := connectors.EncodeJSON(items) // text always encodes
		return engine.KVValue(b), ""
	case views.StoreObject:
		return objectValue(rows)
	case views.StoreJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(strings.TrimSpace(text))); err != nil {
			return nil, jsonProblem(strings.TrimSpace(text))
		}
		return engine.KVValue(buf.Bytes()), ""
	}
	return nil, "choose a kind of value"
}

// scalarValue is a number or yes/no as JSON.
func scalarValue(kind, text string) (engine.KVValue, string) {
	if kind == views.StoreNumber {
		t := strings.TrimSpace(text)
		if _, err := strconv.ParseFloat(t, 64); err != nil || !json.Valid([]byte(t)) {
			return nil, "not a number: write digits such as 42, -7 or 3.5"
		}
		return engine.KVValue(t), ""
	}
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "yes", "true", "on", "1":
		return engine.KVValue("true"), ""
	case "no", "false", "off", "0":
		return engine.KVValue("false"), ""
	}
	return nil, "write yes or no"
}

// objectValue is the rows as a JSON object, its members in the rows'
// order; rows with neither name nor value are left out.
func objectValue(rows []views.StoreRow) (engine.KVValue, string) {
	out := []byte{'{'}
	seen := map[string]bool{}
	for i, r := range rows {
		name := strings.TrimSpace(r.Name)
		if name == "" && strings.TrimSpace(r.Value) == "" {
			continue
		}
		at := "row " + strconv.Itoa(i+1)
		switch {
		case name == "":
			return nil, at + ": give the value a name"
		case seen[name]:
			return nil, at + ": the name " + strconv.Quote(name) + " is given twice"
		}
		seen[name] = true
		value, msg := jsonText(r.Value), ""
		if r.Type != views.StoreText {
			value, msg = scalarValue(r.Type, r.Value)
		}
		if msg != "" {
			return nil, at + " (" + name + "): " + msg
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, jsonText(name)...), ':'), value...)
	}
	if len(out) == 1 {
		return nil, "give at least one name and value"
	}
	return engine.KVValue(append(out, '}')), ""
}

// jsonText is text as a JSON string, with <, > and & as written (not
// escaped as encoding/json does by default).
func jsonText(text string) engine.KVValue {
	b, _ := connectors.EncodeJSON(text) // a string always encodes
	return engine.KVValue(b)
}

// storeSaveUI answers POST /store (a new value, namespace and key from
// the form) and POST /store/{namespace}/{key}/edit. Errors are shown next
// to their fields. With _op it saves nothing and shows the form again:
// "kind" in the kind chosen (what was typed carried over where it fits),
// "rows" with more empty rows.
func (s *Server) storeSaveUI(c *fiber.Ctx) error {
	f := views.StoreForm{Page: s.pageProps(c, "Edit value", "store"), Type: c.FormValue("type"), Value: c.FormValue("value"),
		Rows: storeFormRows(c), TTLAmount: strings.TrimSpace(c.FormValue("ttl_amount")), TTLUnit: c.FormValue("ttl_unit"),
		Errors: map[string][]string{}}
	if c.Params("namespace") == "" {
		f.New = true
		f.Namespace, f.Key = strings.TrimSpace(c.FormValue("namespace")), c.FormValue("key")
	} else {
		var err error
		if f.Namespace, f.Key, err = kvParams(c); err != nil {
			return err
		}
		// The expiry the value has now, which an empty "Expires after"
		// keeps (gone or expired meanwhile: none).
		if e, err := s.eng.KVGet(c.UserContext(), f.Namespace, f.Key); err == nil {
			f.Expires = e.ExpiresAt
		}
		f.TTLNever = c.FormValue("ttl_never") != ""
	}
	switch c.FormValue("_op") {
	case "kind":
		f.Value, f.Rows = carryOver(c.FormValue("shown"), f)
		return s.storeForm(c, fiber.StatusOK, f)
	case "rows":
		f.Rows = filledRows(f.Rows) // the form adds the blanks
		for range 3 {
			f.Rows = append(f.Rows, views.StoreRow{Type: views.StoreText})
		}
		return s.storeForm(c, fiber.StatusOK, f)
	}
	value, msg := parseFormValue(f.Type, f.Value, f.Rows)
	if msg != "" {
		f.Errors["value"] = append(f.Errors["value"], msg)
	}
	ttl, tmsg := formTTL(f.TTLAmount, f.TTLUnit)
	if f.TTLAmount == "" && !f.TTLNever && f.Expires != nil {
		// Kept, to the second it had (a duration from now). Expired
		// meanwhile: the next read finds no value; kept a second more.
		ttl = max(time.Until(*f.Expires), time.Second)
	}
	if tmsg != "" {
		f.Errors["ttl"] = append(f.Errors["ttl"], tmsg)
	}
	if msg != "" || tmsg != "" {
		return s.storeForm(c, fiber.StatusUnprocessableEntity, f)
	}
	value, _, err := kvInput(kvPutRequest{Value: value})
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
	return s.storeForm(c, fiber.StatusUnprocessableEntity, f)
}

// formTTL is "Expires after" as a duration: a whole number of a unit of
// views.StoreTTLUnits; no amount, no expiry.
func formTTL(amount, unit string) (time.Duration, string) {
	return pickedDuration(amount, unit, views.StoreTTLUnits)
}

// storeFormRows reads the rows of named values the form posted.
func storeFormRows(c *fiber.Ctx) []views.StoreRow {
	args := c.Request().PostArgs()
	names, types, values := args.PeekMulti("row.name"), args.PeekMulti("row.type"), args.PeekMulti("row.value")
	rows := make([]views.StoreRow, len(names))
	for i, n := range names {
		rows[i] = views.StoreRow{Name: string(n), Type: views.StoreText}
		if i < len(types) {
			rows[i].Type = string(types[i])
		}
		if i < len(values) {
			rows[i].Value = string(values[i])
		}
	}
	return filledRows(rows)
}

// filledRows leaves out the rows with neither name nor value (the form's
// blanks, which it adds again).
func filledRows(rows []views.StoreRow) []views.StoreRow {
	return slices.DeleteFunc(rows, func(r views.StoreRow) bool {
		return strings.TrimSpace(r.Name) == "" && strings.TrimSpace(r.Value) == ""
	})
}

// carryOver is what the form shows after its kind changed from shown to
// f.Type: the value typed so far, when it fits the new kind; else the
// text as typed, when both kinds are typed in the box; else nothing.
func carryOver(shown string, f views.StoreForm) (string, []views.StoreRow) {
	if v, msg := parseFormValue(shown, f.Value, f.Rows); msg == "" {
		if text, rows, ok := formValueAs(f.Type, v); ok {
			return text, rows
		}
	}
	if shown != views.StoreObject && f.Type != views.StoreObject {
		return f.Value, nil
	}
	return "", nil
}

// storeForm shows the form again (refused, or changed by an _op), on the
// page it came from.
func (s *Server) storeForm(c *fiber.Ctx, status int, f views.StoreForm) error {
	if !f.New {
		return render(c, status, views.StoreEdit(f))
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
	return render(c, status, views.Store(p))
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
