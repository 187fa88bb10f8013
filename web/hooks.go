package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// Webhook answer headers.
const (
	headerRunID     = "Switchyard-Run-Id"
	headerDuplicate = "Switchyard-Duplicate"
)

// hook is webhook ingress: find the flow, check the request, store the
// event durably, and only then answer.
func (s *Server) hook(c *fiber.Ctx) error {
	path := strings.Trim(c.Params("*"), "/")
	a, ok := s.eng.WebhookFlow(path)
	if !ok {
		return errStatus(fiber.StatusNotFound, "no enabled flow listens on /hooks/%s", path)
	}
	trig := a.Flow().Trigger
	if len(trig.Methods) > 0 && !slices.ContainsFunc(trig.Methods, func(m string) bool { return strings.EqualFold(m, c.Method()) }) {
		c.Set(fiber.HeaderAllow, strings.Join(trig.Methods, ", "))
		return errStatus(fiber.StatusMethodNotAllowed, "method %s not allowed on /hooks/%s", c.Method(), path)
	}
	raw := c.Body()
	if int64(len(raw)) > trig.EffectiveMaxBody() {
		return errStatus(fiber.StatusRequestEntityTooLarge, "body of %d bytes exceeds this flow's limit of %d bytes", len(raw), trig.EffectiveMaxBody())
	}
	contentType := c.Get(fiber.HeaderContentType)
	if err := checkBody(contentType, raw); err != nil {
		return err
	}
	if trig.Verify != nil {
		// Signature schemes arrive with the webhook-security work; until
		// then a flow that asks for verification accepts nothing rather
		// than everything.
		s.log.Warn("webhook refused: verification scheme not supported yet", "flow_id", a.Flow().ID, "scheme", trig.Verify.Scheme)
		return errStatus(fiber.StatusUnauthorized, "signature verification failed")
	}
	ev := &engine.Event{
		Source:      flows.TriggerWebhook,
		Method:      c.Method(),
		Path:        path,
		Headers:     requestHeaders(c),
		Query:       requestQuery(c),
		RemoteAddr:  c.IP(),
		ContentType: contentType,
		// Fiber reuses request buffers once the handler returns.
		Body:       bytes.Clone(raw),
		ReceivedAt: time.Now().UTC(),
	}
	sync := trig.Respond == flows.RespondSync
	acc, err := s.eng.Accept(c.UserContext(), a, ev, sync)
	if err != nil {
		var de *engine.DedupeError
		if errors.As(err, &de) {
			return errStatus(fiber.StatusBadRequest, "%s", de.Error())
		}
		if errors.Is(err, engine.ErrSaturated) {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
		return err
	}
	c.Set(headerRunID, acc.RunID)
	if acc.Duplicate {
		c.Set(headerDuplicate, "true")
		return c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": acc.RunID, "duplicate": true})
	}
	if !sync {
		// The hot path: run ids need no escaping, so skip the encoder.
		c.Status(fiber.StatusAccepted)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"run_id":"` + acc.RunID + `"}`)
	}
	timer := time.NewTimer(trig.EffectiveTimeout())
	defer timer.Stop()
	select {
	case run := <-acc.Done:
		return syncAnswer(c, run)
	case <-timer.C:
		s.eng.Forget(acc.RunID)
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": acc.RunID, "status": "running"})
	}
}

// syncAnswer answers a sync webhook with what webhook.respond set, else
// the last step's output.
func syncAnswer(c *fiber.Ctx, run *engine.Run) error {
	if r := run.Response; r != nil {
		status := r.Status
		if status == 0 {
			status = fiber.StatusOK
		}
		c.Status(status)
		for k, v := range r.Headers {
			c.Set(k, v)
		}
		switch b := r.Body.(type) {
		case nil:
			return nil
		case string:
			if headerValue(r.Headers, fiber.HeaderContentType) == "" {
				c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			}
			return c.SendString(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if headerValue(r.Headers, fiber.HeaderContentType) == "" {
				c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
			}
			return c.Send(data)
		}
	}
	if run.Status == engine.RunFailed {
		return c.Status(fiber.StatusInternalServerError).JSON(errorBody{Error: run.Error, RunID: run.ID})
	}
	var out any
	for i := len(run.Steps) - 1; i >= 0; i-- {
		if run.Steps[i].Status == engine.StepSucceeded && run.Steps[i].Use != "" {
			out = run.Steps[i].Output
			break
		}
	}
	return c.Status(fiber.StatusOK).JSON(out)
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// checkBody refuses bodies the engine could not read later: malformed JSON
// or forms (400) and media types it does not take (415). Nothing is stored
// for a refused body.
func checkBody(contentType string, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	if contentType == "" {
		return errStatus(fiber.StatusUnsupportedMediaType, "missing Content-Type; send application/json, application/x-www-form-urlencoded or text/*")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return errStatus(fiber.StatusUnsupportedMediaType, "malformed Content-Type %q", contentType)
	}
	switch {
	case engine.IsJSONType(contentType):
		if err := validJSON(body); err != nil {
			return errStatus(fiber.StatusBadRequest, "malformed JSON body: %v", err)
		}
	case mt == "application/x-www-form-urlencoded":
		if _, err := url.ParseQuery(string(body)); err != nil {
			return errStatus(fiber.StatusBadRequest, "malformed form body: %v", err)
		}
	case strings.HasPrefix(mt, "text/"), mt == "application/xml":
	default:
		return errStatus(fiber.StatusUnsupportedMediaType, "unsupported Content-Type %q; send application/json, application/x-www-form-urlencoded or text/*", mt)
	}
	return nil
}

// validJSON checks a body is exactly one JSON value and says where it breaks.
func validJSON(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(body, se.Offset)
		return fmt.Errorf("%v at line %d, column %d", se, line, col)
	}
	if err == nil {
		return errors.New("invalid JSON")
	}
	return err
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, ch := range b[:off] {
		if ch == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// requestHeaders copies the headers with lower-case names; repeated
// headers are joined with ", ".
func requestHeaders(c *fiber.Ctx) map[string]string {
	h := map[string]string{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		if prev, ok := h[name]; ok {
			h[name] = prev + ", " + string(v)
		} else {
			h[name] = string(v)
		}
	})
	return h
}

func requestQuery(c *fiber.Ctx) map[string]string {
	q := map[string]string{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		name := string(k)
		if prev, ok := q[name]; ok {
			q[name] = prev + "," + string(v)
		} else {
			q[name] = string(v)
		}
	})
	return q
}
