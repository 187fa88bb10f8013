//go:build !unix

package egress

import "syscall"

// idleOpen cannot look without a peek: a closed connection shows when the
// request fails (retried when it is safe to, retryDirect).
func idleOpen(syscall.RawConn) bool { return true }
