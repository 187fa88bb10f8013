package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// internalError turns a recovered panic into the error users see,
// "internal error (see log, id X)", and logs the panic with its stack
// under that id. The stack goes to the log only: run history and API
// answers get the id to look for. hide redacts the panic's message (it may
// quote a credential) before it is logged; nil keeps it.
func internalError(log *slog.Logger, recovered any, hide func(string) string, attrs ...any) error {
	id := incidentID()
	msg := fmt.Sprint(recovered)
	if hide != nil {
		msg = hide(msg)
	}
	log.Error("internal error: recovered from a panic", append(attrs, "id", id, "panic", msg, "stack", string(debug.Stack()))...)
	return fmt.Errorf("internal error (see log, id %s)", id)
}

// incidentID is a short random id that ties an error shown to a user to
// the log line holding its detail.
func incidentID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
