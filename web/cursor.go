package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// Every listing paged by a cursor answers a cursor it never gave out
// alike: 400 naming the field, whichever store parsed it.

// cursorMalformed is the message of a cursor no page gave out.
const cursorMalformed = "malformed: use the next_cursor of the previous page, or none for the first"

// fieldError is a 400 naming the one request field that is wrong.
func fieldError(field, msg string) error {
	return &apiError{status: fiber.StatusBadRequest, msg: field + ": " + msg, details: []flows.FieldError{{Field: field, Message: msg}}}
}

// cursorError turns a store's refusal of a listing's cursor (a malformed
// id) into the 400 of the field; other errors pass as they are.
func cursorError(err error) error {
	if errors.Is(err, engine.ErrBadID) {
		return fieldError("cursor", cursorMalformed)
	}
	return err
}
