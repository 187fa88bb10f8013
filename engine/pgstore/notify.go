package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// notifyChannel carries every run checkpoint to every node (LISTEN/NOTIFY):
// live updates and sync webhook answers for runs another node executes.
const notifyChannel = "sy_runs"

// randomNode names a node that was given no name: host and a few random
// bytes, since a restarted process may reuse its pid.
func randomNode() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// notice is a NOTIFY payload: the change and the node that made it.
type notice struct {
	Node string `json:"n"`
	engine.RunChange
}

// noticeOf is the payload announcing a checkpoint of run.
func (s *Store) noticeOf(run *engine.Run) string {
	b, _ := json.Marshal(notice{Node: s.node, RunChange: engine.ChangeOf(run)})
	return string(b)
}

// flowsChannel carries the ids of flows saved or deleted, so that every
// node recompiles them.
const flowsChannel = "sy_flows"

// flowNotice is a NOTIFY payload of flowsChannel.
type flowNotice struct {
	Node string `json:"n"`
	Flow string `json:"f"`
}

// notifyFlow tells the other nodes, once tx commits, that a flow changed.
func (s *Store) notifyFlow(ctx context.Context, tx pgx.Tx, id string) error {
	b, _ := json.Marshal(flowNotice{Node: s.node, Flow: id})
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, flowsChannel, string(b))
	return err
}

// WatchChanges implements engine.ChangeFeed: it listens on one connection
// of the pool, connecting again after a failure, until ctx ends.
func (s *Store) WatchChanges(ctx context.Context, onRun func(engine.RunChange), onFlow func(string)) {
	for ctx.Err() == nil {
		err := s.listen(ctx, onRun, onFlow)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listening for changes of other nodes; connecting again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, onRun func(engine.RunChange), onFlow func(string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that listened goes back closed, not to other users.
	defer conn.Release()
	defer conn.Conn().Close(context.Background())
	for _, ch := range []string{notifyChannel, flowsChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	// Flows saved before this LISTEN went unheard.
	onFlow("")
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case notifyChannel:
			var no notice
			if json.Unmarshal([]byte(n.Payload), &no) == nil && no.Node != s.node {
				onRun(no.RunChange)
			}
		case flowsChannel:
			var no flowNotice
			if json.Unmarshal([]byte(n.Payload), &no) == nil && no.Node != s.node {
				onFlow(no.Flow)
			}
		}
	}
}

var _ engine.ChangeFeed = (*Store)(nil)
