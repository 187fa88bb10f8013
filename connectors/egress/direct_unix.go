//go:build unix

package egress

import "syscall"

// idleOpen reports whether an idle connection is still open: nothing to
// read yet. Data waiting (an answer to no request) or the end of the
// stream (the server closed it) means it cannot carry a request.
func idleOpen(raw syscall.RawConn) bool {
	open := true
	var b [1]byte
	err := raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR
		return true // never wait for the connection to become readable
	})
	return err == nil && open
}
