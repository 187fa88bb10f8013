package web

import (
	"context"
	"io"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Backuper writes a consistent copy of the database while writes go on
// (boltstore.Store.Backup): start is called once the snapshot is taken,
// with its exact size, and returns where the copy goes.
type Backuper interface {
	Backup(ctx context.Context, start func(size int64) (io.Writer, error)) (int64, error)
}

// backup streams a snapshot of the database: GET /api/backup. The
// snapshot is taken before the answer starts, so a store that cannot take
// one (stuck, or behind for too long) is a plain error answer; once the
// 200 is sent the body has the snapshot's exact Content-Length, and a copy
// cut short shows as a short body.
func (s *Server) backup(c *fiber.Ctx) error {
	if s.cfg.Backup == nil {
		return errStatus(fiber.StatusNotImplemented, "this server's store cannot make backups")
	}
	// The copy runs on its own goroutine, writing into a pipe the
	// response reads from; it holds a read transaction until the client
	// has the whole copy or goes away (closing the pipe ends it).
	pr, pw := io.Pipe()
	sized := make(chan int64, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	reqID := requestIDOf(c) // c is not ours once the handler returns
	go func() {
		defer cancel()
		began := time.Now()
		var snapshot time.Duration // how long the store took to catch up with its log
		n, err := s.cfg.Backup.Backup(ctx, func(size int64) (io.Writer, error) {
			snapshot = time.Since(began)
			sized <- size
			return pw, nil
		})
		pw.CloseWithError(err)
		if err != nil {
			s.log.Warn("backup failed", "request_id", reqID, "err", err, "bytes", n)
		} else {
			s.log.Info("backup sent", "request_id", reqID, "bytes", n, "snapshot_after", snapshot.String(),
				"took", time.Since(began).Round(time.Millisecond).String())
		}
		done <- err
	}()
	select {
	case size := <-sized:
		c.Set(fiber.HeaderContentType, "application/octet-stream")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="switchyard-backup.db"`)
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Context().SetBodyStream(pr, int(size))
		return nil
	case err := <-done:
		return err
	}
}
